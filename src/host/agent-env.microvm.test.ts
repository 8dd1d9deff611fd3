// Snapshot and restore of a microvm agent's environment (its writable disk image) through real VMs: what the
// guest wrote comes back after a restore, and neither is allowed while a VM of the agent runs.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { testImageCache } from '../../test/fixtures/base-image.ts';
import { microvmBlocker, microvmTestOptions } from '../../test/fixtures/microvm.ts';
import type { HomePaths } from '../config/home.ts';
import { resolveHome } from '../config/home.ts';
import { AgentConfig } from '../config/schema.ts';
import { findBaseImage } from '../sandbox/image/index.ts';
import { SNAPSHOT_DISK } from '../sandbox/layer/snapshot.ts';
import { createMicrovmBackend } from '../sandbox/microvm/backend.ts';
import type { Sandbox, SandboxBackend } from '../sandbox/types.ts';
import { DEFAULT_LIMITS, MIB } from '../sandbox/types.ts';
import { loadOrCreateKey } from '../store/secret-box.ts';
import { openSqliteStore } from '../store/sqlite.ts';
import type { Store } from '../store/types.ts';
import { silentLogger } from '../util/log.ts';
import type { AgentEnvDeps } from './agent-env.ts';
import { listSnapshots, restoreAgentEnv, snapshotAgentEnv, snapshotsDir } from './agent-env.ts';
import { agentHostIds } from './agent-dirs.ts';
import { prepareAgentVolume, removeAgentVolume } from './agent-volume.ts';

const image = findBaseImage(testImageCache());
const isRoot = process.getuid?.() === 0;
const blocker = !isRoot
  ? 'needs root (per-agent volumes)'
  : image === undefined
    ? 'no base image in the test cache'
    : microvmBlocker();
/** three TCG boots on a busy host */
const TIMEOUT_MS = 360_000;
const DISK = 256 * MIB;

describe.skipIf(blocker !== undefined)(
  `microvm agent environment${blocker === undefined ? '' : ` (skipped: ${blocker})`}`,
  () => {
    let home: HomePaths;
    let store: Store;
    const running: Sandbox[] = [];
    const agent = AgentConfig.parse({ name: 'vmenv', model: 'anthropic:x', limits: { disk: DISK } });

    afterEach(async () => {
      await Promise.all(running.splice(0).map((s) => s.stop()));
      store.close();
      await removeAgentVolume(home, agent.name);
      fs.rmSync(home.root, { recursive: true, force: true });
    });

    /** Starts a VM of the agent the way launch does (its volume, its uid, the base image). */
    async function start(backend: SandboxBackend, script: string): Promise<Sandbox> {
      const ids = agentHostIds(store.ensureAgent(agent.name).id, isRoot);
      const v = await prepareAgentVolume(home, agent.name, DISK, { ids, isRoot, log: silentLogger });
      const run = fs.mkdtempSync(path.join(os.tmpdir(), 'corral-vmenv-run-'));
      fs.chmodSync(run, 0o711);
      for (const d of ['rt', 'gw']) fs.mkdirSync(path.join(run, d));
      const sandbox = await backend.start({
        sandboxId: path.basename(run),
        agent: agent.name,
        workspaceDir: v.workspaceDir,
        runtimeDir: path.join(run, 'rt'),
        gatewayDir: path.join(run, 'gw'),
        etcDir: path.join(run, 'etc'),
        root: { imageDir: image?.rootfs ?? '', imageId: image?.id ?? '', layerDir: v.layerDir },
        hostIds: ids,
        env: { PATH: '/usr/local/bin:/usr/bin:/bin' },
        limits: { ...DEFAULT_LIMITS, diskBytes: DISK },
        extraReadOnly: [],
        command: ['/bin/sh', '-c', script],
      });
      running.push(sandbox);
      void sandbox.exited.then(() => fs.rmSync(run, { recursive: true, force: true }));
      return sandbox;
    }

    async function run(backend: SandboxBackend, script: string): Promise<string> {
      const s = await start(backend, script);
      let out = '';
      let err = '';
      s.stdout.on('data', (c: Buffer) => (out += c.toString()));
      s.stderr.on('data', (c: Buffer) => (err += c.toString()));
      const exit = await s.exited;
      if (exit.code !== 0) throw new Error(`sandbox failed (${String(exit.code)}): ${err}`);
      return out;
    }

    it(
      'brings back the disk the guest wrote, and refuses both while a VM of the agent runs',
      async () => {
        home = resolveHome({ CORRAL_HOME: fs.mkdtempSync(path.join(os.tmpdir(), 'corral-vmenv-')) });
        fs.chmodSync(home.root, 0o711);
        store = openSqliteStore({ path: home.dbFile, secretKey: loadOrCreateKey(home.keyFile) });
        const deps: AgentEnvDeps = { home, store, isRoot, log: silentLogger };
        const backend = createMicrovmBackend({
          log: silentLogger,
          runDir: path.join(home.root, 'run'),
          ...microvmTestOptions(),
        });

        await run(backend, 'echo one > /etc/y && echo w1 > /workspace/w');
        const m = await snapshotAgentEnv(deps, agent, 's1');
        expect(m.members).toContain(SNAPSHOT_DISK);
        const saved = fs.statSync(path.join(snapshotsDir(home, agent.name), 's1.disk.ext4'));
        expect(saved.size).toBe(DISK);
        // sparse: an ext4 of 256 MiB with one small file holds a few MiB of metadata, not 256 MiB
        expect(saved.blocks * 512).toBeLessThan(DISK / 4);

        const busy = await start(
          backend,
          'echo two > /etc/y && echo w2 > /workspace/w && sync && echo up; sleep 300',
        );
        await new Promise<void>((r) => busy.stdout.once('data', () => r()));
        await expect(snapshotAgentEnv(deps, agent, 's2')).rejects.toThrow(/in use|running/);
        await expect(restoreAgentEnv(deps, agent, 's1')).rejects.toThrow(/in use|running/);
        await busy.stop();

        await restoreAgentEnv(deps, agent, 's1');
        expect(await run(backend, 'cat /etc/y /workspace/w')).toBe('one\nw1\n');
        expect(listSnapshots(home, agent.name).map((s) => s.tag)).toEqual(['s1']);
      },
      TIMEOUT_MS,
    );
  },
);
