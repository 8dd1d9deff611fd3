// The runtime's control loop: starts the gateway bridge, announces itself with a `ready` frame, then runs the
// turns the host sends, one at a time, until `shutdown` or the end of its input.
import type { Readable, Writable } from 'node:stream';
import type { HostFrame, RuntimeFrame, TurnFrame } from '../protocol/frames.ts';
import { readFrames, writeFrame } from '../protocol/ndjson.ts';
import { startBridge } from './bridge.ts';
import { collectStartReport } from './self-check.ts';
import type { runTurn } from './loop.ts';
import { createModelClient, gatewayModelBaseURL, preloadProviders } from './providers/index.ts';
import type { ModelBaseURL } from './providers/index.ts';
import type { HostRequest } from '../protocol/requests.ts';
import { FILE_CHUNK_BYTES, PROTOCOL_VERSION } from '../protocol/wire.ts';
import type { ToolResult } from './tools/types.ts';

export interface RuntimeOptions {
  /** Read only after `ready` is sent (main.ts passes a getter so that process.stdin opens no earlier). */
  input: Readable;
  /** Carries frames only; diagnostics go out as `log` frames. */
  output: Writable;
  gatewaySocket: string;
  workspace: string;
  /** Environment for the processes tools start; the runtime adds the proxy variables pointing at its bridge. */
  env: Record<string, string | undefined>;
  /** Where model calls go. Default: the gateway's model route on the bridge; tests point it at a stand-in. */
  modelBaseURL?: ModelBaseURL;
}

export interface Runtime {
  /** Loopback port of the gateway bridge. */
  port: number;
  /** Resolves once the runtime has stopped (shutdown frame or end of input) and the running turn has ended. */
  done: Promise<void>;
}

function proxyEnv(port: number): Record<string, string> {
  const proxy = `http://127.0.0.1:${port}`;
  const local = '127.0.0.1,localhost,::1';
  // Both spellings: curl reads the lower-case ones, many other tools the upper-case ones.
  return {
    HTTP_PROXY: proxy,
    HTTPS_PROXY: proxy,
    http_proxy: proxy,
    https_proxy: proxy,
    NO_PROXY: local,
    no_proxy: local,
  };
}

// The turn loop and its tools (node:http, node:https, node:child_process, every tool's schema) load once the
// runtime has reported ready, in the background as the model SDKs do: the start self-test needs none of them, and
// they were the larger part of the runtime's own start.
let turnLoop: Promise<typeof runTurn> | undefined;
const loadTurnLoop = (): Promise<typeof runTurn> => (turnLoop ??= import('./loop.ts').then((m) => m.runTurn));

// Marks before `ready` by process.hrtime: the `performance` global loads node:perf_hooks on first use (~1 ms of
// every start in a sandbox), so it is read only once ready, to place the marks on Node's own timeline.
const hrMs = (): number => Number(process.hrtime.bigint()) / 1e6;

export async function startRuntime(opts: RuntimeOptions): Promise<Runtime> {
  const loadedAt = hrMs();
  const emit = (frame: RuntimeFrame): void => void writeFrame(opts.output, frame);
  const log = (level: 'debug' | 'info' | 'warn' | 'error', msg: string): void =>
    emit({ type: 'log', level, msg });
  // the start self-test (facts the host judges before it sends the first turn) runs while the bridge opens: its
  // gateway check waits on a connect, the bridge on a listen; neither changes what the other sees
  const checkAt = hrMs();
  const checked = collectStartReport(opts.gatewaySocket, opts.env).then((report) => ({
    report,
    ms: hrMs() - checkAt,
  }));
  const bridge = await startBridge(opts.gatewaySocket, (msg) => log('warn', msg));
  const toolContext = {
    workspace: opts.workspace,
    env: { ...opts.env, ...proxyEnv(bridge.port) },
    bridgePort: bridge.port,
  };
  const baseURL = opts.modelBaseURL ?? gatewayModelBaseURL;
  let current: { turnId: string; controller: AbortController; finished: Promise<void> } | undefined;
  // requests to the host awaiting its answer, by request id
  const pending = new Map<string, (r: ToolResult) => void>();
  let nextRequest = 0;
  const askHost = (
    turnId: string,
    request: HostRequest,
    signal: AbortSignal,
    attachment?: Buffer,
  ): Promise<ToolResult> =>
    new Promise((resolve) => {
      const requestId = `r${++nextRequest}`;
      const settle = (r: ToolResult): void => {
        pending.delete(requestId);
        signal.removeEventListener('abort', onAbort);
        resolve(r);
      };
      const onAbort = (): void => settle({ output: 'cancelled before the host answered', isError: true });
      if (signal.aborted) return onAbort();
      signal.addEventListener('abort', onAbort, { once: true });
      pending.set(requestId, settle);
      // the bytes first, in order, in frames well under MAX_FRAME_BYTES; the request closes them
      for (let at = 0, seq = 0; attachment !== undefined && at < attachment.length; at += FILE_CHUNK_BYTES)
        emit({
          type: 'file_chunk',
          turnId,
          requestId,
          seq: seq++,
          data: attachment.subarray(at, at + FILE_CHUNK_BYTES).toString('base64'),
        });
      emit({ type: 'request', turnId, requestId, request });
    });

  const start = (turn: TurnFrame): void => {
    if (current) {
      const message = `turn ${current.turnId} is still running; cancel it or wait for its turn_end`;
      return emit({ type: 'turn_error', turnId: turn.turnId, code: 'bad_request', message });
    }
    const controller = new AbortController();
    const client = createModelClient(turn.model, baseURL(turn.model, bridge.port));
    const tools = {
      ...toolContext,
      host: (r: HostRequest, s: AbortSignal, a?: Buffer) => askHost(turn.turnId, r, s, a),
    };
    // The turn is over for the host the moment its last frame leaves: the host may send the next turn right
    // then, before the loop's promise settles, so the slot is freed before that frame is written.
    const release = (): void => {
      if (current === self) current = undefined;
    };
    const turnEmit = (frame: RuntimeFrame): void => {
      if (frame.type === 'turn_end' || frame.type === 'turn_error') release();
      emit(frame);
    };
    const finished = loadTurnLoop()
      .then((run) => run(turn, { client, tools, emit: turnEmit, signal: controller.signal }))
      .catch((err: unknown) => {
        const message = `runtime bug: ${err instanceof Error ? err.message : String(err)}`;
        turnEmit({ type: 'turn_error', turnId: turn.turnId, code: 'internal', message });
      })
      .finally(release);
    const self = { turnId: turn.turnId, controller, finished };
    current = self;
  };

  let resolveDone: () => void = () => undefined;
  const done = new Promise<void>((resolve) => (resolveDone = resolve));
  let stopping = false;
  const stop = async (): Promise<void> => {
    if (stopping) return;
    stopping = true;
    unsubscribe();
    if (current) {
      current.controller.abort();
      await current.finished;
    }
    await bridge.close();
    resolveDone();
  };

  const onFrame = (frame: HostFrame): void => {
    switch (frame.type) {
      case 'turn':
        return start(frame);
      case 'cancel':
        if (current?.turnId === frame.turnId) current.controller.abort();
        else log('debug', `cancel for turn ${frame.turnId} ignored: it is not running`);
        return;
      case 'request_result':
        pending.get(frame.requestId)?.({ output: frame.output, isError: frame.isError });
        return;
      case 'shutdown':
        return void stop();
    }
  };
  let unsubscribe = (): void => undefined;
  const { report: selfTest, ms: checkMs } = await checked;
  const readyAt = hrMs();
  emit({ type: 'ready', protocol: PROTOCOL_VERSION, gatewayPort: bridge.port, selfTest });
  // where this process's start went, in ms since it began: the host logs it at debug level
  const sinceStart = performance.now() - hrMs();
  const ms = (t: number): string => t.toFixed(1);
  log(
    'debug',
    `started: node bootstrap ${ms(performance.nodeTiming.bootstrapComplete)}, ` +
      `code loaded ${ms(loadedAt + sinceStart)}, self-test ${ms(checkMs)}, ready ${ms(readyAt + sinceStart)}`,
  );
  preloadProviders();
  loadTurnLoop().catch(() => undefined); // a failure shows on the first turn
  // The frames' schemas (zod) load only now: the host sends nothing before `ready`, and what it sends from then
  // on waits in the input stream until it is read.
  const { HostFrame } = await import('../protocol/frames.ts');
  unsubscribe = readFrames(opts.input, HostFrame, {
    onFrame,
    onError: (err) => log('warn', err.message),
    onEnd: () => void stop(),
  });
  return { port: bridge.port, done };
}
