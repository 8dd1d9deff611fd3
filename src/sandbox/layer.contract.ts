// The writable-environment part of the sandbox contract, for backends given a base image: an agent's changes to
// its system persist for it, never reach another agent, go away on reset, and its links never reach the host.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { HostIds, Sandbox, SandboxBackend, SandboxSpec } from './types.ts';
import { DEFAULT_LIMITS } from './types.ts';

const LAYER_BASE_TIMEOUT_MS = 60_000;
export const CONTRACT_PACKAGE = 'corral-contract-hello';

export interface ContractOptions {
  /** multiplies every test's timeout, for backends that boot slowly (a VM under emulation) */
  timeoutScale?: number;
}

export interface ContractImage {
  dir: string;
  id: string;
}

/** A tiny .deb (one script in /usr/bin) built with dpkg-deb: installing it proves dpkg works with one mapped uid. */
export function buildContractDeb(dir: string): string {
  const tree = path.join(dir, 'deb-tree');
  fs.mkdirSync(path.join(tree, 'DEBIAN'), { recursive: true });
  fs.mkdirSync(path.join(tree, 'usr/bin'), { recursive: true });
  fs.writeFileSync(
    path.join(tree, 'DEBIAN/control'),
    `Package: ${CONTRACT_PACKAGE}\nVersion: 1.0\nArchitecture: all\nMaintainer: corral <corral@localhost>\nDescription: contract test package\n`,
  );
  fs.writeFileSync(path.join(tree, 'usr/bin', CONTRACT_PACKAGE), '#!/bin/sh\necho hello-from-deb\n', {
    mode: 0o755,
  });
  const deb = path.join(dir, 'hello.deb');
  const r = spawnSync('dpkg-deb', ['--root-owner-group', '--build', tree, deb], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`dpkg-deb failed: ${r.stderr}`);
  return deb;
}

async function output(sandbox: Sandbox): Promise<{ out: string; err: string; code: number | null }> {
  let out = '';
  let err = '';
  sandbox.stdout.on('data', (c: Buffer) => (out += c.toString()));
  sandbox.stderr.on('data', (c: Buffer) => (err += c.toString()));
  const exit = await sandbox.exited;
  return { out, err, code: exit.code };
}

export function describeLayerContract(
  name: string,
  makeBackend: () => SandboxBackend,
  hostIds: HostIds | undefined,
  image: ContractImage,
  opts: ContractOptions = {},
): void {
  const LAYER_TIMEOUT_MS = LAYER_BASE_TIMEOUT_MS * (opts.timeoutScale ?? 1);
  describe(`SandboxBackend contract, writable layer: ${name}`, () => {
    const roots: string[] = [];
    const running: Sandbox[] = [];
    const hasDpkgDeb = spawnSync('dpkg-deb', ['--version']).status === 0;
    afterEach(async () => {
      await Promise.all(running.splice(0).map((s) => s.stop()));
    });
    afterAll(() => {
      for (const r of roots.splice(0)) fs.rmSync(r, { recursive: true, force: true });
    });

    /** One agent: its own workspace and layer; `n` picks a distinct host uid per agent when corral is root. */
    function agent(n: number): (command: string[], over?: Partial<SandboxSpec>) => SandboxSpec {
      const root = fs.mkdtempSync(path.join(os.tmpdir(), 'corral-layer-contract-'));
      roots.push(root);
      fs.chmodSync(root, 0o711);
      const dirs = ['workspace', 'runtime', 'gw', 'etc'].map((d) => path.join(root, d));
      for (const d of dirs) fs.mkdirSync(d, { mode: 0o755 });
      const [workspaceDir = '', runtimeDir = '', gatewayDir = '', etcDir = ''] = dirs;
      const ids = hostIds && { uid: hostIds.uid + n, gid: hostIds.gid + n };
      if (ids !== undefined) fs.chownSync(workspaceDir, ids.uid, ids.gid);
      return (command, over = {}) => ({
        sandboxId: `${path.basename(root)}-${n}`,
        agent: `contract-${n}`,
        workspaceDir,
        runtimeDir,
        gatewayDir,
        etcDir,
        root: { imageDir: image.dir, imageId: image.id, layerDir: path.join(root, 'layer') },
        hostIds: ids,
        env: { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', HOME: '/root' },
        limits: DEFAULT_LIMITS,
        extraReadOnly: [],
        command,
        ...over,
      });
    }

    async function run(s: SandboxSpec): Promise<{ out: string; err: string; code: number | null }> {
      const sandbox = await makeBackend().start(s);
      running.push(sandbox);
      return output(sandbox);
    }

    const sh = (script: string): string[] => ['/bin/sh', '-c', script];

    it.skipIf(!hasDpkgDeb)(
      "keeps an agent's system changes and installed packages for it, and shows them to no other agent",
      async () => {
        const a = agent(0);
        fs.copyFileSync(
          buildContractDeb(path.dirname(a([]).workspaceDir)),
          path.join(a([]).workspaceDir, 'hello.deb'),
        );
        const change = await run(
          a(
            sh(
              [
                'set -e',
                "printf '#!/bin/sh\\necho x-ran\\n' > /usr/local/bin/x && chmod 755 /usr/local/bin/x",
                'echo y > /etc/y',
                'echo z > /root/z',
                "echo 'extra:x:1000:1000::/home/extra:/bin/sh' >> /etc/passwd",
                'rm /etc/issue',
                'dpkg -i /workspace/hello.deb > /dev/null',
                'echo changed',
              ].join('\n'),
            ),
          ),
        );
        expect(change.err).toBe('');
        expect(change.out).toBe('changed\n');

        const probe = [
          'x 2>/dev/null || echo no-x',
          'cat /etc/y /root/z 2>/dev/null || echo no-files',
          'grep -c ^extra: /etc/passwd',
          '[ -e /etc/issue ] && echo issue || echo no-issue',
          `${CONTRACT_PACKAGE} 2>/dev/null || echo no-package`,
          `dpkg-query -W -f '\${Status}\\n' ${CONTRACT_PACKAGE} 2>/dev/null || echo not-installed`,
        ].join('; ');
        const again = await run(a(sh(probe)));
        expect(again.out).toBe('x-ran\ny\nz\n1\nno-issue\nhello-from-deb\ninstall ok installed\n');
        const other = await run(agent(1)(sh(probe)));
        expect(other.out).toBe('no-x\nno-files\n0\nissue\nno-package\nnot-installed\n');
      },
      LAYER_TIMEOUT_MS,
    );

    it(
      'reset drops the layer, and is refused while a sandbox of the agent runs',
      async () => {
        const backend = makeBackend();
        if (backend.resetLayer === undefined) throw new Error(`${name} has no resetLayer`);
        const a = agent(2);
        const layerDir = a([]).root?.layerDir ?? '';
        expect((await run(a(sh('echo y > /etc/y && rm /etc/issue')))).code).toBe(0);
        const busy = await backend.start(a(sh('echo up; sleep 300')));
        running.push(busy);
        await new Promise<void>((resolve) => busy.stdout.once('data', () => resolve()));
        await expect(backend.resetLayer('contract-2', layerDir)).rejects.toThrow(/in use|running/);
        await busy.stop();
        await backend.resetLayer('contract-2', layerDir);
        const after = await run(
          a(sh('cat /etc/y 2>/dev/null || echo no-y; [ -e /etc/issue ] && echo issue')),
        );
        expect(after.out).toBe('no-y\nissue\n');
      },
      LAYER_TIMEOUT_MS,
    );

    it(
      'links the agent plants where the next sandbox mounts things reach nothing on the host',
      async () => {
        const target = fs.mkdtempSync(path.join(os.tmpdir(), 'corral-link-target-'));
        roots.push(target);
        fs.chmodSync(target, 0o777); // were the link followed on the host, anyone could create files here
        const ca = path.join(target, '..', `${path.basename(target)}.ca.pem`);
        fs.writeFileSync(ca, 'not a real bundle\n');
        roots.push(ca);
        // a bwrap running as host root with the merged tree at / would create target/ca-certificates.crt
        for (const [n, link] of [
          [3, target],
          [4, `/oldroot${target}`],
        ] as const) {
          const a = agent(n);
          const plant = await run(
            a(sh(`rm -rf /etc/ssl/certs && ln -s ${link} /etc/ssl/certs && echo planted`)),
          );
          expect(plant.out).toBe('planted\n');
          // the next sandbox binds the CA bundle at /etc/ssl/certs/ca-certificates.crt: through the link
          const next = await run(a(sh('echo started'), { caBundle: ca }));
          expect([0, 1]).toContain(next.code);
        }
        expect(fs.readdirSync(target)).toEqual([]);
      },
      LAYER_TIMEOUT_MS,
    );
  });
}
