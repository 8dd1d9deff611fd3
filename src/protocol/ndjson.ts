// Splits a byte stream into NDJSON frames and validates each against a schema; encodes frames as lines.
import type { Readable, Writable } from 'node:stream';
import type * as z from './zod-mini.ts';
import { MAX_FRAME_BYTES } from './wire.ts';

export class ProtocolError extends Error {
  readonly code = 'protocol_error';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

export function encodeFrame(frame: unknown): string {
  return JSON.stringify(frame) + '\n';
}

export function writeFrame(out: Writable, frame: unknown): boolean {
  return out.write(encodeFrame(frame));
}

/**
 * Calls onFrame for every valid line of `input`, onError for every invalid one (the stream goes on: one bad
 * frame does not kill a session), and onEnd when the stream closes.
 */
export function readFrames<S extends z.ZodMiniType>(
  input: Readable,
  schema: S,
  handlers: {
    onFrame: (frame: z.infer<S>) => void;
    onError: (err: ProtocolError) => void;
    onEnd?: () => void;
  },
): () => void {
  let buffered = '';
  const onData = (chunk: Buffer | string): void => {
    buffered += typeof chunk === 'string' ? chunk : chunk.toString('utf8');
    let nl = buffered.indexOf('\n');
    while (nl !== -1) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      if (line.trim() !== '') handleLine(line);
      nl = buffered.indexOf('\n');
    }
    if (buffered.length > MAX_FRAME_BYTES) {
      buffered = '';
      handlers.onError(new ProtocolError(`frame larger than ${MAX_FRAME_BYTES} bytes dropped`));
    }
  };
  const handleLine = (line: string): void => {
    let raw: unknown;
    try {
      raw = JSON.parse(line);
    } catch (cause) {
      handlers.onError(new ProtocolError(`not JSON: ${line.slice(0, 120)}`, { cause }));
      return;
    }
    const parsed = schema.safeParse(raw);
    if (!parsed.success) {
      handlers.onError(new ProtocolError(`invalid frame: ${parsed.error.message.slice(0, 300)}`));
      return;
    }
    handlers.onFrame(parsed.data);
  };
  const onEnd = (): void => handlers.onEnd?.();
  input.on('data', onData);
  input.on('end', onEnd);
  return () => {
    input.off('data', onData);
    input.off('end', onEnd);
  };
}
