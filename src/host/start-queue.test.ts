// Real bwrap sandboxes through the host's start limit (sandboxes.maxStarting in corral.yaml): a burst waits its
// turn and every start gets ready, never more than the limit in their start phase at once; a failed start frees
// its slot for the next.
import { spawnSync } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import type { TestHost } from '../../test/fixtures/test-host.ts';
import { openTestHost } from '../../test/fixtures/test-host.ts';
import { createSandboxRegistry } from '../sandbox/registry.ts';
import type { LaunchDeps, RunningSandbox } from './launch.ts';
import { launchSandbox } from './launch.ts';
import type { StartLimiter } from './start-limit.ts';

const noBwrap = spawnSync('bwrap', ['--version']).status === 0 ? undefined : 'bwrap is not installed';
const AGENTS = ['queued1', 'queued2', 'queued3'];
const BROKEN = 'broken';

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve: () => void = () => undefined;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

function limiterOf(host: TestHost): StartLimiter {
  const limiter = host.opened.launch.startLimit;
  if (limiter === undefined) throw new Error('openHost gave no start limit');
  return limiter;
}

describe.skipIf(noBwrap !== undefined)(`sandbox start queue on bwrap ${noBwrap ?? ''}`, () => {
  let host: TestHost | undefined;
  const running: RunningSandbox[] = [];
  afterEach(async () => {
    await Promise.all(running.splice(0).map((s) => s.stop()));
    await host?.close();
  });

  it('with the limit at 1, three starts at once all get ready, one in its start phase at a time', async () => {
    host = openTestHost({
      prefix: 'corral-start-queue-',
      agents: AGENTS,
      config: { sandboxes: { maxStarting: 1 } },
    });
    const limiter = limiterOf(host);
    expect(limiter.limit).toBe(1);
    const deps = host.opened.launch;
    const started = await Promise.allSettled(
      AGENTS.map((name) => launchSandbox(deps, { name, backend: 'bwrap' })),
    );
    for (const s of started) if (s.status === 'fulfilled') running.push(s.value);
    expect(started.map((s) => (s.status === 'fulfilled' ? 'ready' : String(s.reason)))).toEqual([
      'ready',
      'ready',
      'ready',
    ]);
    expect(new Set(running.map((s) => s.id)).size).toBe(3);
    // two of them waited for their turn, and at no moment were two in their start phase
    expect(limiter.stats()).toEqual({ limit: 1, starting: 0, waiting: 0, peak: 1, started: 3, queued: 2 });
  });

  it('a start that fails in its start phase frees its slot: the start queued behind it gets ready', async () => {
    host = openTestHost({
      prefix: 'corral-start-queue-',
      agents: [BROKEN, 'queued1'],
      config: { sandboxes: { maxStarting: 1 } },
    });
    const limiter = limiterOf(host);
    const bwrap = host.opened.sandboxes.get('bwrap');
    const brokenHolds = deferred();
    const letItFail = deferred();
    const nextQueued = deferred();
    const deps: LaunchDeps = {
      ...host.opened.launch,
      // the real bwrap backend; the broken agent's runtime is /bin/false, so its sandbox exits before ready
      sandboxes: createSandboxRegistry([
        {
          ...bwrap,
          start: async (spec) => {
            if (spec.agent !== BROKEN) return bwrap.start(spec);
            brokenHolds.resolve();
            await letItFail.promise;
            return bwrap.start({ ...spec, command: ['/bin/false'] });
          },
        },
      ]),
      // the host's own limiter, told when the second start joins the queue
      startLimit: {
        limit: limiter.limit,
        stats: () => limiter.stats(),
        acquire: (signal) => {
          const turn = limiter.acquire(signal);
          if (limiter.stats().waiting > 0) nextQueued.resolve();
          return turn;
        },
      },
    };
    const broken = launchSandbox(deps, { name: BROKEN, backend: 'bwrap' });
    await brokenHolds.promise;
    const next = launchSandbox(deps, { name: 'queued1', backend: 'bwrap' });
    await nextQueued.promise;
    expect(limiter.stats()).toMatchObject({ starting: 1, waiting: 1 });
    letItFail.resolve();
    await expect(broken).rejects.toThrow(/exited|ready/);
    // its slot went to the next start before the failure reached the caller
    expect(limiter.stats()).toMatchObject({ waiting: 0, started: 2 });
    running.push(await next);
    expect(limiter.stats()).toEqual({ limit: 1, starting: 0, waiting: 0, peak: 1, started: 2, queued: 1 });
  });
});
