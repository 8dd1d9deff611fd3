// Docker: the agent's environment lives in its own long-lived container, kept across sessions, reset on demand.
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ENV_GATEWAY_SOCKET, SANDBOX_GATEWAY_SOCKET } from '../../protocol/sandbox-env.ts';
import type { Sandbox, SandboxBackend, SandboxSpec } from '../types.ts';
import { DEFAULT_LIMITS, MIB } from '../types.ts';
import { homeId, LABEL, layerContainerName, layerRepo, snapshotRepo } from './containers.ts';
import type { Scratch, TestDaemon } from './test-daemon.ts';
import { createScratch, runToEnd } from './test-daemon.ts';

const T = 60_000;
const sh = (script: string): string[] => ['/bin/sh', '-c', script];

export function dockerLayerCases(
  daemon: TestDaemon,
  makeBackend: (s: { homeDir: string; runDir: string }) => SandboxBackend,
): void {
  describe('docker: the agent environment', () => {
    let s: Scratch;
    const running: Sandbox[] = [];
    const backend = (): SandboxBackend => makeBackend({ homeDir: s.root, runDir: s.runDir });
    const start = async (b: SandboxBackend, spec: SandboxSpec): Promise<Sandbox> => {
      const sandbox = await b.start(spec);
      running.push(sandbox);
      return sandbox;
    };
    const run = async (b: SandboxBackend, spec: SandboxSpec) => runToEnd(await start(b, spec));
    const inspect = (agent: string) => daemon.api.containerInspect(layerContainerName(homeId(s.root), agent));

    beforeAll(() => {
      s = createScratch(daemon);
    });
    afterEach(async () => {
      await Promise.all(running.splice(0).map((x) => x.stop()));
    });
    afterAll(async () => {
      const b = backend();
      for (const agent of ['alpha', 'beta', 'gamma', 'delta', 'snap', 'purged'])
        await b.resetLayer?.(agent, s.layerDir(agent));
      for (const agent of ['snap', 'purged'])
        for (const ref of await daemon.api.imageRefs(snapshotRepo(homeId(s.root), agent)))
          await daemon.api.imageRemove(ref);
      s.cleanup();
    });

    it(
      'snapshots the container and restores it by re-creating the container from the commit; refused while a session runs',
      async () => {
        const b = backend();
        const layer = s.layerDir('snap');
        expect((await run(b, s.spec('snap', sh('echo before > /etc/snap.conf && echo ok')))).out).toBe(
          'ok\n',
        );
        await b.snapshotLayer?.('snap', layer, 'one');
        expect(await daemon.api.imageRefs(snapshotRepo(homeId(s.root), 'snap'))).toEqual([
          `${snapshotRepo(homeId(s.root), 'snap')}:one`,
        ]);
        expect((await run(b, s.spec('snap', sh('echo after > /etc/snap.conf && echo ok')))).out).toBe('ok\n');
        // while a session runs, neither may happen
        const live = await start(b, s.spec('snap', sh('echo up; sleep 30')));
        await new Promise<void>((r) => live.stdout.once('data', () => r()));
        await expect(b.snapshotLayer?.('snap', layer, 'two')).rejects.toThrow(/running session/);
        await expect(b.restoreLayer?.('snap', layer, 'one')).rejects.toThrow(/running session/);
        await live.stop();
        await b.restoreLayer?.('snap', layer, 'one');
        expect(await inspect('snap')).toBeUndefined();
        const back = await run(b, s.spec('snap', sh('cat /etc/snap.conf')));
        expect(back.out).toBe('before\n');
        // the next session keeps the restored container (it is not re-created again)
        const id = (await inspect('snap'))?.Id;
        await run(b, s.spec('snap', sh('true')));
        expect((await inspect('snap'))?.Id).toBe(id);
      },
      T,
    );

    it(
      'purge removes the container, its layer commits and every snapshot image; refused while a session runs',
      async () => {
        const b = backend();
        const layer = s.layerDir('purged');
        const snaps = snapshotRepo(homeId(s.root), 'purged');
        await run(b, s.spec('purged', sh('echo kept > /etc/purged.conf')));
        await b.snapshotLayer?.('purged', layer, 'one');
        await b.snapshotLayer?.('purged', layer, 'two');
        expect((await daemon.api.imageRefs(snaps)).sort()).toEqual([`${snaps}:one`, `${snaps}:two`]);
        const live = await start(b, s.spec('purged', sh('echo up; sleep 30')));
        await new Promise<void>((r) => live.stdout.once('data', () => r()));
        await expect(b.purgeLayer?.('purged', layer)).rejects.toThrow(/running session/);
        expect(await daemon.api.imageRefs(snaps)).toHaveLength(2);
        await live.stop();
        await b.purgeLayer?.('purged', layer);
        expect(await daemon.api.imageRefs(snaps)).toEqual([]);
        expect(await daemon.api.imageRefs(layerRepo(homeId(s.root), 'purged'))).toEqual([]);
        expect(await inspect('purged')).toBeUndefined();
      },
      T,
    );

    it(
      'keeps /usr/local, /etc and /root across sessions and corral restarts, for that agent only',
      async () => {
        const first = await run(
          backend(),
          s.spec(
            'alpha',
            sh(
              'echo tool > /usr/local/bin/mytool && echo conf > /etc/alpha.conf && echo note > /root/note && echo ok',
            ),
          ),
        );
        expect(first.out).toBe('ok\n');
        expect((await inspect('alpha'))?.State.Running).toBe(false);
        // a new backend object, as after a restart of corral: Docker kept the container and its layer
        const again = await run(
          backend(),
          s.spec('alpha', sh('cat /usr/local/bin/mytool /etc/alpha.conf /root/note')),
        );
        expect(again.out).toBe('tool\nconf\nnote\n');
        const other = await run(
          backend(),
          s.spec(
            'beta',
            sh('for f in /usr/local/bin/mytool /etc/alpha.conf /root/note; do [ -e $f ] || echo gone; done'),
          ),
        );
        expect(other.out).toBe('gone\ngone\ngone\n');
      },
      T,
    );

    it(
      'resetLayer drops the environment and keeps the workspace',
      async () => {
        const b = backend();
        await run(b, s.spec('alpha', sh('echo x > /etc/to-drop && echo kept > /workspace/kept')));
        await b.resetLayer?.('alpha', s.layerDir('alpha'));
        expect(await inspect('alpha')).toBeUndefined();
        const after = await run(
          b,
          s.spec('alpha', sh('[ -e /etc/to-drop ] || echo dropped; cat /workspace/kept')),
        );
        expect(after.out).toBe('dropped\nkept\n');
      },
      T,
    );

    it(
      'starts a fresh environment when the layer directory was dropped, and a reap removes the stale container',
      async () => {
        const b = backend();
        await run(b, s.spec('beta', sh('echo old > /etc/beta-old')));
        const before = await inspect('beta');
        fs.rmSync(s.layerDir('beta'), { recursive: true, force: true });
        const after = await run(b, s.spec('beta', sh('[ -e /etc/beta-old ] || echo fresh')));
        expect(after.out).toBe('fresh\n');
        expect((await inspect('beta'))?.Id).not.toBe(before?.Id);

        fs.rmSync(s.layerDir('beta'), { recursive: true, force: true });
        expect(await b.reap?.(s.runDir)).toEqual([expect.stringMatching(/layer directory .* is gone/)]);
        expect(await inspect('beta')).toBeUndefined();
      },
      T,
    );

    it(
      'updates memory, CPU and process limits in place and re-creates the container, layer included, for others',
      async () => {
        const b = backend();
        const limits = { ...DEFAULT_LIMITS, memoryBytes: 300 * MIB };
        await run(b, s.spec('delta', sh('echo carried > /etc/carried'), { limits }));
        const before = await inspect('delta');
        await run(
          b,
          s.spec('delta', sh('true'), { limits: { ...limits, memoryBytes: 200 * MIB, maxProcesses: 99 } }),
        );
        const updated = await inspect('delta');
        expect(updated?.Id).toBe(before?.Id);
        expect(updated?.HostConfig).toMatchObject({ Memory: 200 * MIB, PidsLimit: 99 });

        // an rlimit is fixed at creation: a new container, made from a commit of the old one's layer
        const recreated = await run(
          b,
          s.spec('delta', sh('cat /etc/carried; ulimit -n'), { limits: { ...limits, maxOpenFiles: 1000 } }),
        );
        expect(recreated.out).toBe('carried\n1000\n');
        expect((await inspect('delta'))?.Id).not.toBe(before?.Id);
        expect(await daemon.api.imageRefs(layerRepo(homeId(s.root), 'delta'))).toHaveLength(1);
        await b.resetLayer?.('delta', s.layerDir('delta'));
        expect(await daemon.api.imageRefs(layerRepo(homeId(s.root), 'delta'))).toEqual([]);
      },
      T,
    );

    it(
      'runs two sessions of one agent in its container, each with its own gateway socket',
      async () => {
        const b = backend();
        const servers: net.Server[] = [];
        const spec = async (greeting: string, script: string): Promise<SandboxSpec> => {
          const sp = s.spec('gamma', sh(script), {
            env: { PATH: '/usr/bin:/bin', [ENV_GATEWAY_SOCKET]: SANDBOX_GATEWAY_SOCKET },
          });
          const sock = path.join(sp.gatewayDir, 'gateway.sock');
          const server = net.createServer((c) => c.end(greeting));
          servers.push(server);
          await new Promise<void>((r) => server.listen(sock, r));
          if (daemon.root !== undefined) fs.chownSync(sock, daemon.root.uid, daemon.root.gid);
          return sp;
        };
        const hello = `python3 -c "import os,socket; s=socket.socket(socket.AF_UNIX); s.connect(os.environ['${ENV_GATEWAY_SOCKET}']); print(s.recv(100).decode())"`;
        try {
          const one = await start(b, await spec('gateway-one', `${hello}; echo shared > /tmp/shared; cat`));
          const two = await start(b, await spec('gateway-two', `${hello}; cat`));
          const lines = (x: Sandbox, n: number): Promise<string> =>
            new Promise((resolve) => {
              let text = '';
              x.stdout.on('data', (c: Buffer) => {
                text += c.toString();
                if (text.split('\n').length > n) resolve(text);
              });
            });
          const twoOut = lines(two, 2);
          expect(await lines(one, 1)).toBe('gateway-one\n');
          await one.stop();
          two.stdin.write('still here\n');
          expect(await twoOut).toBe('gateway-two\nstill here\n');
          expect((await inspect('gamma'))?.State.Running).toBe(true);
          two.stdin.end();
          expect((await two.exited).code).toBe(0);
          expect((await inspect('gamma'))?.State.Running).toBe(false);
        } finally {
          for (const server of servers) server.close();
        }
      },
      T,
    );

    it(
      'labels every container with its home, and leaves none running',
      async () => {
        const ours = await daemon.api.containerList({ [LABEL.home]: homeId(s.root) });
        expect(ours.length).toBeGreaterThan(0);
        expect(ours.filter((c) => c.State === 'running')).toEqual([]);
        expect(ours.every((c) => c.Labels?.[LABEL.kind] === 'layer')).toBe(true);
      },
      T,
    );
  });
}
