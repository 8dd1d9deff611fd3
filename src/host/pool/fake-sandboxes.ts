// Stand-in sandboxes for the pool and router tests: they start at once, can be killed, and record it all.
import { PassThrough } from 'node:stream';
import type { AgentConfig } from '../../config/schema.ts';
import type { SandboxExit } from '../../sandbox/types.ts';
import type { RunningSandbox } from '../launch.ts';

export function fakeSandboxes() {
  const live = new Set<string>();
  const started: string[] = [];
  const stopped: string[] = [];
  const kills = new Map<string, () => void>();
  let n = 0;
  let failNext = false;
  const start = (a: AgentConfig): Promise<RunningSandbox> => {
    if (failNext) {
      failNext = false;
      return Promise.reject(new Error('backend down'));
    }
    const id = `${a.name}#${++n}`;
    let die: (e: SandboxExit) => void = () => undefined;
    const exit = new Promise<SandboxExit>((r) => (die = r));
    kills.set(id, () => die({ code: 1, signal: null }));
    live.add(id);
    started.push(id);
    const sandbox = {
      id,
      stdin: new PassThrough(),
      stdout: new PassThrough(),
      stderr: new PassThrough(),
      exited: exit,
      stop: () => Promise.resolve(),
    };
    return Promise.resolve({
      id,
      agent: a.name,
      channel: {
        sandbox,
        send: () => undefined,
        onFrame: () => () => undefined,
        ready: () => Promise.resolve(1),
        stderrTail: () => '',
        exit,
      },
      stop: () => {
        live.delete(id);
        stopped.push(id);
        die({ code: 0, signal: null });
        return Promise.resolve();
      },
    });
  };
  return {
    start,
    live,
    started,
    stopped,
    kill: (id: string) => kills.get(id)?.(),
    failNext: () => (failNext = true),
  };
}
