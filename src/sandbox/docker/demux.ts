// Splits Docker's multiplexed attach stream (Tty false) into stdout and stderr. Each frame is an 8-byte header
// [stream, 0, 0, 0, size as uint32 big-endian] followed by `size` bytes of that stream.
import type { Readable, Writable } from 'node:stream';

const HEADER_BYTES = 8;
const STREAM_STDOUT = 1;
const STREAM_STDERR = 2;

export class DemuxError extends Error {
  override name = 'DemuxError';
}

/**
 * A push parser: feed it chunks as they arrive, in any split. `emit` gets each payload piece with its stream;
 * a frame's payload may come in several pieces. Throws DemuxError on a header that is not Docker's.
 */
export function createDemuxer(emit: (stream: 'stdout' | 'stderr', data: Buffer) => void) {
  let header = Buffer.alloc(0);
  let remaining = 0;
  let current: 'stdout' | 'stderr' = 'stdout';
  return {
    push(chunk: Buffer): void {
      let at = 0;
      while (at < chunk.length) {
        if (remaining > 0) {
          const take = Math.min(remaining, chunk.length - at);
          emit(current, chunk.subarray(at, at + take));
          remaining -= take;
          at += take;
          continue;
        }
        const need = HEADER_BYTES - header.length;
        header = Buffer.concat([header, chunk.subarray(at, at + need)]);
        at += Math.min(need, chunk.length - at);
        if (header.length < HEADER_BYTES) return;
        const kind = header[0];
        if (kind !== STREAM_STDOUT && kind !== STREAM_STDERR && kind !== 0) {
          throw new DemuxError(`not a Docker stream header (stream byte ${String(kind)})`);
        }
        // stream 0 (stdin echoed back) never occurs without a TTY; treat it as stdout rather than drop bytes
        current = kind === STREAM_STDERR ? 'stderr' : 'stdout';
        remaining = header.readUInt32BE(4);
        header = Buffer.alloc(0);
      }
    },
    /** true when the stream ended between frames, as it should */
    get clean(): boolean {
      return header.length === 0 && remaining === 0;
    },
  };
}

/**
 * Pipes a multiplexed stream into two writables with backpressure: the source pauses while either is full.
 * Ends both when the source ends; destroys them with the error if the source is not a Docker stream.
 */
export function demultiplex(source: Readable, stdout: Writable, stderr: Writable): void {
  const targets = { stdout, stderr };
  const demuxer = createDemuxer((name, data) => {
    if (!targets[name].write(data)) {
      source.pause();
      targets[name].once('drain', () => source.resume());
    }
  });
  source.on('data', (chunk: Buffer) => {
    try {
      demuxer.push(chunk);
    } catch (err) {
      source.destroy();
      const e = err instanceof Error ? err : new DemuxError(String(err));
      stdout.destroy(e);
      stderr.destroy(e);
    }
  });
  source.once('end', () => {
    stdout.end();
    stderr.end();
  });
  source.once('close', () => {
    // a connection that closed without an end (reset) still ends the outputs
    if (!stdout.writableEnded) stdout.end();
    if (!stderr.writableEnded) stderr.end();
  });
}
