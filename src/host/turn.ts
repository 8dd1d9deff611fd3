// Runs one turn over a control channel: sends the turn frame, relays events, resolves on its end.
import type { RuntimeFrame, TurnEndFrame, TurnErrorFrame, TurnFrame } from '../protocol/frames.ts';
import type { ControlChannel } from './control.ts';
import { exitError } from './control.ts';
import type { HostRequest } from '../protocol/requests.ts';
import type { Attachment } from './outgoing-files.ts';
import { createChunkAssembler } from './file-chunks.ts';
import { CorralError, errorMessage } from '../util/errors.ts';

export type TurnEvent = Extract<
  RuntimeFrame,
  { type: 'text' | 'tool_call' | 'tool_result' | 'usage' | 'compacted' }
>;
export type TurnOutcome = TurnEndFrame | TurnErrorFrame;
/** The host's answer to a request of the agent's (schedule_task, send_message): the tool's result. */
export interface HostAnswer {
  output: string;
  isError: boolean;
}
/** `attachment`: the bytes that came ahead of the request (send_file), already reassembled and capped. */
export type RequestHandler = (request: HostRequest, attachment?: Attachment) => Promise<HostAnswer>;

/** Grace for the runtime to stop after a cancel before the host stops waiting for it. */
export const CANCEL_GRACE_MS = 5_000;

export function runTurn(
  channel: ControlChannel,
  frame: TurnFrame,
  opts: { onEvent: (e: TurnEvent) => void; signal?: AbortSignal; onRequest?: RequestHandler },
): Promise<TurnOutcome> {
  return new Promise<TurnOutcome>((resolve, reject) => {
    let graceTimer: NodeJS.Timeout | undefined;
    const cleanup = (): void => {
      off();
      opts.signal?.removeEventListener('abort', onAbort);
      if (graceTimer !== undefined) clearTimeout(graceTimer);
    };
    const chunks = createChunkAssembler();
    const off = channel.onFrame((f) => {
      if (!('turnId' in f) || f.turnId !== frame.turnId) return;
      switch (f.type) {
        case 'file_chunk':
          chunks.add(f);
          return;
        case 'text':
        case 'tool_call':
        case 'tool_result':
        case 'usage':
        case 'compacted':
          opts.onEvent(f);
          return;
        case 'request': {
          const attachment = chunks.take(f.requestId);
          const answer = opts.onRequest
            ? opts
                .onRequest(f.request, attachment)
                .catch((err: unknown) => ({ output: errorMessage(err), isError: true }))
            : Promise.resolve({ output: 'the host takes no requests in this mode', isError: true });
          void answer.then((r) =>
            channel.send({ type: 'request_result', turnId: frame.turnId, requestId: f.requestId, ...r }),
          );
          return;
        }
        case 'turn_end':
        case 'turn_error':
          cleanup();
          resolve(f);
          return;
      }
    });
    const onAbort = (): void => {
      channel.send({ type: 'cancel', turnId: frame.turnId });
      graceTimer = setTimeout(() => {
        cleanup();
        // A runtime that ignores a cancel cannot be trusted with the next turn: the session replaces it.
        reject(
          new CorralError(
            'sandbox_unresponsive',
            `the runtime did not stop within ${CANCEL_GRACE_MS} ms of a cancel`,
          ),
        );
      }, CANCEL_GRACE_MS);
    };
    if (opts.signal?.aborted === true) {
      off();
      resolve({ type: 'turn_end', turnId: frame.turnId, stopReason: 'cancelled', text: '', messages: [] });
      return;
    }
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    void channel.exit.then((exit) => {
      cleanup();
      reject(exitError(exit, channel.stderrTail()));
    });
    channel.send(frame);
  });
}
