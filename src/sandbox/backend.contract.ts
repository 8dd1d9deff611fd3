// The contract every SandboxBackend must meet, run against each backend (see *.contract.test.ts files).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { ContractImage, ContractOptions } from './layer.contract.ts';
import { describeLayerContract } from './layer.contract.ts';
import type { HostIds, Sandbox, SandboxBackend, SandboxSpec } from './types.ts';
import { DEFAULT_LIMITS } from './types.ts';
import { alive, describeProc, footprint } from './testing/footprint.ts';

/** Processes of a uid; pgrep exits 1 when there are none, anything else is an error, not an empty answer. */
function pgrep(uid: number): number[] {
  const r = spawnSync('pgrep', ['-u', String(uid)], { encoding: 'utf8' });
  if (r.status !== 0 && r.status !== 1) throw new Error(`pgrep -u ${uid} failed: ${r.stderr}`);
  return r.stdout
    .split('\n')
    .filter((l) => l !== '')
    .map(Number);
}

const CONTRACT_BASE_TIMEOUT_MS = 20_000;

async function output(sandbox: Sandbox): Promise<{ out: string; err: string; code: number | null }> {
  let out = '';
  let err = '';
  sandbox.stdout.on('data', (c: Buffer) => (out += c.toString()));
  sandbox.stderr.on('data', (c: Buffer) => (err += c.toString()));
  const exit = await sandbox.exited;
  return { out, err, code: exit.code };
}

export type { ContractImage, ContractOptions };

export function runSandboxContract(
  name: string,
  makeBackend: () => SandboxBackend,
  hostIds: HostIds | undefined,
  /** a base image: with one, every sandbox's / is a fresh agent layer over it, and the layer contract runs */
  image?: ContractImage,
  /** timeoutScale: multiplies every test's timeout, for backends that boot slowly (a VM under emulation) */
  opts: ContractOptions = {},
): void {
  const CONTRACT_TIMEOUT_MS = CONTRACT_BASE_TIMEOUT_MS * (opts.timeoutScale ?? 1);
  describe(`SandboxBackend contract: ${name}`, () => {
    const roots: string[] = [];
    const running: Sandbox[] = [];
    afterEach(async () => {
      await Promise.all(running.splice(0).map((s) => s.stop()));
      for (const r of roots.splice(0)) fs.rmSync(r, { recursive: true, force: true });
    });

    function spec(command: string[], over: Partial<SandboxSpec> = {}): SandboxSpec {
      const root = fs.mkdtempSync(path.join(os.tmpdir(), 'corral-contract-'));
      roots.push(root);
      fs.chmodSync(root, 0o711);
      const dirs = ['workspace', 'runtime', 'gw', 'etc'].map((d) => path.join(root, d));
      for (const d of dirs) fs.mkdirSync(d, { mode: 0o755 });
      const [workspaceDir = '', runtimeDir = '', gatewayDir = '', etcDir = ''] = dirs;
      if (hostIds !== undefined) fs.chownSync(workspaceDir, hostIds.uid, hostIds.gid);
      return {
        sandboxId: path.basename(root),
        agent: 'contract',
        workspaceDir,
        runtimeDir,
        gatewayDir,
        etcDir,
        ...(image && {
          root: { imageDir: image.dir, imageId: image.id, layerDir: path.join(root, 'layer') },
        }),
        hostIds,
        env: { PATH: '/usr/bin:/bin', CONTRACT_VISIBLE: 'yes' },
        limits: DEFAULT_LIMITS,
        extraReadOnly: [],
        command,
        ...over,
      };
    }

    async function start(s: SandboxSpec): Promise<Sandbox> {
      const sandbox = await makeBackend().start(s);
      running.push(sandbox);
      return sandbox;
    }

    it(
      'carries stdin to the command and its stdout back, and reports the exit code',
      async () => {
        const sandbox = await start(spec(['/bin/sh', '-c', 'read line; echo "got:$line"; exit 7']));
        sandbox.stdin.end('hello\n');
        const r = await output(sandbox);
        expect(r.out).toBe('got:hello\n');
        expect(r.code).toBe(7);
      },
      CONTRACT_TIMEOUT_MS,
    );

    it(
      'passes exactly the environment it is given',
      async () => {
        process.env['CORRAL_CONTRACT_LEAK'] = 'leaked';
        try {
          const r = await output(await start(spec(['/bin/sh', '-c', 'env'])));
          expect(r.out).toContain('CONTRACT_VISIBLE=yes');
          expect(r.out).not.toContain('CORRAL_CONTRACT_LEAK');
        } finally {
          delete process.env['CORRAL_CONTRACT_LEAK'];
        }
      },
      CONTRACT_TIMEOUT_MS,
    );

    it(
      'keeps the workspace between sandboxes and nothing else',
      async () => {
        const s = spec([
          '/bin/sh',
          '-c',
          'echo kept > /workspace/a; echo lost > /tmp/b; echo lost > /root/c',
        ]);
        expect((await output(await start(s))).code).toBe(0);
        // on a base image /root is part of the agent's layer, which persists (see the layer contract)
        const scratch = image === undefined ? '/tmp /root' : '/tmp';
        const again = await output(
          await start({
            ...s,
            command: ['/bin/sh', '-c', `cat /workspace/a; find ${scratch} -mindepth 1 | wc -l`],
          }),
        );
        expect(again.out).toBe('kept\n0\n');
      },
      CONTRACT_TIMEOUT_MS,
    );

    it(
      'mounts the runtime and gateway directories read-only',
      async () => {
        const r = await output(
          await start(
            spec([
              '/bin/sh',
              '-c',
              'touch /opt/corral/x 2>/dev/null && echo rt-writable; touch /run/corral/x 2>/dev/null && echo gw-writable; echo done',
            ]),
          ),
        );
        expect(r.out).toBe('done\n');
      },
      CONTRACT_TIMEOUT_MS,
    );

    it(
      'applies the open-file limit',
      async () => {
        const r = await output(await start(spec(['/bin/sh', '-c', 'ulimit -n'])));
        expect(r.out.trim()).toBe(String(DEFAULT_LIMITS.maxOpenFiles));
      },
      CONTRACT_TIMEOUT_MS,
    );

    it(
      'stop() ends every process inside, background ones included',
      async () => {
        const backend = makeBackend();
        const sandbox = await backend.start(
          spec(['/bin/sh', '-c', '(sleep 300 &) ; sleep 300 & echo started; wait']),
        );
        running.push(sandbox);
        await new Promise<void>((resolve) => sandbox.stdout.once('data', () => resolve()));
        // A backend that decides the host ids (Docker's remapped root) shares them with every container of its
        // runtime, this sandbox's or not: judge its own processes (its cgroups) instead of everything of that uid.
        const shared = hostIds !== undefined && backend.hostIdsFor !== undefined;
        if (shared) expect(sandbox.pid, 'the pid whose death ends the sandbox').toBeDefined();
        const own = shared ? footprint(sandbox.pid ?? 0) : undefined;
        if (own !== undefined) expect(own.procs.length, 'the sandbox is seen on the host').toBeGreaterThan(1);
        await sandbox.stop();
        await sandbox.exited;
        if (hostIds !== undefined) {
          // a runtime such as dockerd reaps its processes asynchronously after stop(), so give it up to 5 s
          const left = (): string[] =>
            (own === undefined
              ? pgrep(hostIds.uid) // the agent's own uid owns nothing any more
              : own.procs.filter(alive).map((p) => p.pid)
            ).map(describeProc);
          for (let waited = 0; left().length > 0 && waited < 5_000; waited += 100)
            await new Promise((r) => setTimeout(r, 100));
          expect(left(), 'processes left behind').toEqual([]);
          if (own !== undefined)
            expect(
              own.cgroups.filter((d) => fs.existsSync(d)),
              'cgroups left behind',
            ).toEqual([]);
        }
      },
      CONTRACT_TIMEOUT_MS,
    );
  });
  if (image !== undefined) describeLayerContract(name, makeBackend, hostIds, image, opts);
}
