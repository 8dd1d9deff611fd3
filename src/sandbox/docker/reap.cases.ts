// Docker: nothing is left running after corral is killed, once the next corral reaps; a live owner is respected.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SandboxBackend } from '../types.ts';
import { homeId, LABEL } from './containers.ts';
import type { Scratch, TestDaemon } from './test-daemon.ts';
import { createScratch } from './test-daemon.ts';

const T = 90_000;
const CHILD = fileURLToPath(new URL('./reap-child.fixture.ts', import.meta.url));

/** Starts the fixture in a child process and kills it with SIGKILL once its sandboxes run. */
async function startAndKill(args: object): Promise<void> {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD, JSON.stringify(args)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (c: Buffer) => {
      if (c.toString().includes('started')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`the fixture exited early (${String(code)})`)));
  });
  const gone = new Promise((r) => child.once('exit', r));
  child.kill('SIGKILL');
  await gone;
}

export function dockerReapCases(
  daemon: TestDaemon,
  makeBackend: (s: { homeDir: string; runDir: string }) => SandboxBackend,
): void {
  describe('docker: reap after corral is killed', () => {
    let s: Scratch;
    const ours = () => daemon.api.containerList({ [LABEL.home]: homeId(s.root) });
    beforeAll(() => {
      s = createScratch(daemon);
    });
    afterAll(async () => {
      for (const c of await ours()) await daemon.api.containerRemove(c.Id);
      s.cleanup();
    });

    it(
      'removes session containers and stops agent containers whose corral died, nothing else',
      async () => {
        const sleep = ['/bin/sh', '-c', 'sleep 300'];
        const withLayer = s.spec('reaped', sleep);
        const { root: _root, ...sessionOnly } = s.spec('reaped-session', sleep);
        await startAndKill({
          homeDir: s.root,
          runDir: s.runDir,
          specs: [withLayer, sessionOnly],
          defaultRoot: daemon.image,
        });
        expect((await ours()).filter((c) => c.State === 'running')).toHaveLength(2);

        // a sandbox of this (live) process, in the same home: the reap must leave it alone
        const b = makeBackend({ homeDir: s.root, runDir: s.runDir });
        const live = await b.start(s.spec('alive', sleep));
        const reaped = (await b.reap?.(s.runDir)) ?? [];
        expect(reaped).toHaveLength(2);

        const left = await ours();
        expect(left.filter((c) => c.Labels?.[LABEL.kind] === 'session')).toEqual([]);
        expect(left.filter((c) => c.State === 'running').map((c) => c.Labels?.[LABEL.agent])).toEqual([
          'alive',
        ]);
        await live.stop();
        expect((await b.reap?.(s.runDir)) ?? []).toEqual([]);

        // the agents' containers hold their environments: only a reset removes them
        for (const agent of ['reaped', 'alive']) await b.resetLayer?.(agent, s.layerDir(agent));
        expect(await ours()).toEqual([]);
      },
      T,
    );
  });
}
