// The host end of a sandbox's control stream: validated frames in, frames out, the runtime's stderr kept short.
import { EventEmitter } from 'node:events';
import type { HostFrame, RuntimeFrame, StartReport } from '../protocol/frames.ts';
import { RuntimeFrame as RuntimeFrameSchema } from '../protocol/frames.ts';
import { readFrames, writeFrame } from '../protocol/ndjson.ts';
import type { Sandbox, SandboxExit } from '../sandbox/types.ts';
import { CorralError } from '../util/errors.ts';
import type { Logger } from '../util/log.ts';

const STDERR_TAIL_BYTES = 4096;

export interface ControlChannel {
  readonly sandbox: Sandbox;
  send(frame: HostFrame): void;
  onFrame(listener: (frame: RuntimeFrame) => void): () => void;
  /** Resolves with the gateway port the runtime reported; rejects if the sandbox dies or times out first. */
  ready(timeoutMs: number): Promise<number>;
  /** the start self-test the runtime sent with `ready` (undefined before it, or from a runtime without one) */
  startReport?(): StartReport | undefined;
  stderrTail(): string;
  readonly exit: Promise<SandboxExit>;
}

export function openControlChannel(sandbox: Sandbox, log: Logger): ControlChannel {
  const events = new EventEmitter();
  let tail = '';
  sandbox.stderr.on('data', (chunk: Buffer) => {
    tail = (tail + chunk.toString('utf8')).slice(-STDERR_TAIL_BYTES);
  });
  readFrames(sandbox.stdout, RuntimeFrameSchema, {
    onFrame: (frame) => {
      if (frame.type === 'log') log[frame.level]('runtime: ' + frame.msg, { sandbox: sandbox.id });
      events.emit('frame', frame);
    },
    onError: (err) => log.warn('bad frame from runtime', { sandbox: sandbox.id, err: err.message }),
  });
  // A write to a dead sandbox must not crash the host; the exit promise reports the death.
  sandbox.stdin.on('error', (err) => log.debug('sandbox stdin closed', { err: err.message }));

  const onFrame = (listener: (frame: RuntimeFrame) => void): (() => void) => {
    events.on('frame', listener);
    return () => events.off('frame', listener);
  };

  let report: StartReport | undefined;
  const ready = (timeoutMs: number): Promise<number> =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        off();
        reject(
          new CorralError('sandbox_not_ready', `the sandbox did not report ready within ${timeoutMs} ms`),
        );
      }, timeoutMs);
      const off = onFrame((frame) => {
        if (frame.type !== 'ready') return;
        report = frame.selfTest;
        clearTimeout(timer);
        off();
        resolve(frame.gatewayPort);
      });
      void sandbox.exited.then((exit) => {
        clearTimeout(timer);
        off();
        reject(exitError(exit, tail));
      });
    });

  return {
    sandbox,
    send: (frame) => void writeFrame(sandbox.stdin, frame),
    onFrame,
    ready,
    startReport: () => report,
    stderrTail: () => tail,
    exit: sandbox.exited,
  };
}

export function exitError(exit: SandboxExit, stderrTail: string): CorralError {
  if (exit.limitHit !== undefined) {
    // "memory limit 512 MiB reached; the process was stopped": here the process was the agent's runtime
    const what = exit.limitHit.message.split(';')[0] ?? exit.limitHit.message;
    return new CorralError(
      'limit_hit',
      `${what}; the turn was stopped`,
      'the agent starts afresh with its next message; raise the limit with: corral agent set NAME --memory SIZE',
    );
  }
  const how = exit.signal !== null ? `killed by ${exit.signal}` : `exited with code ${String(exit.code)}`;
  const last = stderrTail.trim().split('\n').slice(-3).join(' | ');
  return new CorralError(
    'sandbox_died',
    `the sandbox ${how}${last === '' ? '' : `: ${last}`}`,
    'run: corral doctor',
  );
}
