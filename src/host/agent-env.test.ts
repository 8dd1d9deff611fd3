// Snapshots and restores of a real agent environment (fuse-overlayfs layer + workspace on its volume), and reset.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { HomePaths } from '../config/home.ts';
import { resolveHome } from '../config/home.ts';
import { AgentConfig } from '../config/schema.ts';
import { createBwrapBackend } from '../sandbox/bwrap/backend.ts';
import { devBaseImage, hasFuseOverlayfs } from '../sandbox/layer/testing.ts';
import type { Sandbox, SandboxBackend } from '../sandbox/types.ts';
import { DEFAULT_LIMITS, MIB } from '../sandbox/types.ts';
import { loadOrCreateKey } from '../store/secret-box.ts';
import { openSqliteStore } from '../store/sqlite.ts';
import type { Store } from '../store/types.ts';
import { silentLogger } from '../util/log.ts';
import type { AgentEnvDeps } from './agent-env.ts';
import {
  listSnapshots,
  purgeAgentEnv,
  resetAgentEnv,
  restoreAgentEnv,
  snapshotAgentEnv,
  snapshotsDir,
} from './agent-env.ts';
import { agentHostIds } from './agent-dirs.ts';
import { prepareAgentVolume, removeAgentVolume } from './agent-volume.ts';

const image = devBaseImage();
const isRoot = process.getuid?.() === 0;
const TIMEOUT_MS = 120_000;

describe.skipIf(!hasFuseOverlayfs || image === undefined || !isRoot)('agent environment', () => {
  const imageDir = image ?? '';
  let home: HomePaths;
  let store: Store;
  let deps: AgentEnvDeps;
  let backend: SandboxBackend;
  const running: Sandbox[] = [];
  const agent = AgentConfig.parse({ name: 'envy', model: 'anthropic:x', limits: { disk: 256 * MIB } });

  afterEach(async () => {
    await Promise.all(running.splice(0).map((s) => s.stop()));
    store.close();
    await removeAgentVolume(home, agent.name);
    fs.rmSync(home.root, { recursive: true, force: true });
  });

  function setUp(): void {
    home = resolveHome({ CORRAL_HOME: fs.mkdtempSync(path.join(os.tmpdir(), 'corral-env-')) });
    fs.chmodSync(home.root, 0o711);
    store = openSqliteStore({ path: home.dbFile, secretKey: loadOrCreateKey(home.keyFile) });
    deps = { home, store, isRoot, log: silentLogger };
    backend = createBwrapBackend({ log: silentLogger, runDir: home.runDir });
  }

  /** Starts a sandbox of the agent the way launch does (its volume, its uid, the base image). */
  async function start(script: string): Promise<Sandbox> {
    const ids = agentHostIds(store.ensureAgent(agent.name).id, isRoot);
    const v = await prepareAgentVolume(home, agent.name, 256 * MIB, { ids, isRoot, log: silentLogger });
    const run = fs.mkdtempSync(path.join(os.tmpdir(), 'corral-env-run-'));
    fs.chmodSync(run, 0o711);
    for (const d of ['rt', 'gw']) fs.mkdirSync(path.join(run, d));
    const sandbox = await backend.start({
      sandboxId: path.basename(run),
      agent: agent.name,
      workspaceDir: v.workspaceDir,
      runtimeDir: path.join(run, 'rt'),
      gatewayDir: path.join(run, 'gw'),
      etcDir: path.join(run, 'etc'),
      root: { imageDir, imageId: 'dev', layerDir: v.layerDir },
      hostIds: ids,
      env: { PATH: '/usr/local/bin:/usr/bin:/bin', HOME: '/root' },
      limits: DEFAULT_LIMITS,
      extraReadOnly: [],
      command: ['/bin/sh', '-c', script],
    });
    running.push(sandbox);
    void sandbox.exited.then(() => fs.rmSync(run, { recursive: true, force: true }));
    return sandbox;
  }

  async function run(script: string): Promise<string> {
    const s = await start(script);
    let out = '';
    let err = '';
    s.stdout.on('data', (c: Buffer) => (out += c.toString()));
    s.stderr.on('data', (c: Buffer) => (err += c.toString()));
    const exit = await s.exited;
    if (exit.code !== 0) throw new Error(`sandbox failed (${String(exit.code)}): ${err}`);
    return out;
  }

  it(
    'restores layer and workspace as they were: deletions, opaque dirs, modes, xattrs and links as links',
    async () => {
      setUp();
      const target = fs.mkdtempSync(path.join(os.tmpdir(), 'corral-env-target-'));
      fs.chmodSync(target, 0o777);
      try {
        await run(
          [
            'set -e',
            'echo y > /etc/y && echo z > /root/z && echo w > /workspace/w',
            'rm /etc/issue',
            'rm -rf /etc/apt && mkdir /etc/apt && echo only > /etc/apt/only',
            'cp /bin/true /usr/local/bin/su2 && chmod 4755 /usr/local/bin/su2',
            `python3 -c "import os; os.setxattr('/root/z', 'user.corral', b'kept')"`,
            // links to host paths, planted in the layer and in the workspace
            `ln -s ${target} /root/hostlink && ln -s ${target} /workspace/hostlink && ln -s /etc/shadow /workspace/shadow`,
          ].join('\n'),
        );
        const m = await snapshotAgentEnv(deps, agent, 's1');
        expect(m.tag).toBe('s1');
        expect(fs.statSync(path.join(snapshotsDir(home, agent.name), 's1.tar')).mode & 0o777).toBe(0o600);
        await expect(snapshotAgentEnv(deps, agent, 's1')).rejects.toThrow(/already has a snapshot/);

        await run(
          'echo changed > /etc/y; rm /root/z; echo w2 > /workspace/w; echo back > /etc/issue; touch /etc/apt/x',
        );
        const busy = await start('echo up; sleep 300');
        await new Promise<void>((r) => busy.stdout.once('data', () => r()));
        await expect(restoreAgentEnv(deps, agent, 's1')).rejects.toThrow(/in use|running/);
        await expect(snapshotAgentEnv(deps, agent, 's2')).rejects.toThrow(/in use|running/);
        await busy.stop();

        await restoreAgentEnv(deps, agent, 's1');
        const out = await run(
          [
            'cat /etc/y /root/z /workspace/w',
            '[ -e /etc/issue ] && echo issue || echo no-issue',
            'ls /etc/apt',
            'stat -c %a /usr/local/bin/su2',
            `python3 -c "import os; print(os.getxattr('/root/z', 'user.corral').decode())"`,
            'readlink /root/hostlink /workspace/hostlink /workspace/shadow',
          ].join('; '),
        );
        expect(out).toBe(`y\nz\nw\nno-issue\nonly\n4755\nkept\n${target}\n${target}\n/etc/shadow\n`);
        // nothing was written through the links on the host
        expect(fs.readdirSync(target)).toEqual([]);
        expect(listSnapshots(home, agent.name).map((s) => s.tag)).toEqual(['s1']);
      } finally {
        fs.rmSync(target, { recursive: true, force: true });
      }
    },
    TIMEOUT_MS,
  );

  it(
    'refuses a snapshot whose tar no longer matches its manifest',
    async () => {
      setUp();
      await run('echo y > /etc/y');
      await snapshotAgentEnv(deps, agent, 't');
      fs.appendFileSync(path.join(snapshotsDir(home, agent.name), 't.tar'), 'tampered');
      await expect(restoreAgentEnv(deps, agent, 't')).rejects.toThrow(/does not match/);
      await expect(restoreAgentEnv(deps, agent, 'nope')).rejects.toThrow(/no snapshot nope/);
    },
    TIMEOUT_MS,
  );

  it(
    'reset drops the environment, keeps the workspace; purge drops the snapshots',
    async () => {
      setUp();
      await run('echo y > /etc/y; echo w > /workspace/w');
      await snapshotAgentEnv(deps, agent, undefined);
      expect(listSnapshots(home, agent.name)[0]?.tag).toMatch(/^\d{8}-\d{6}$/);
      await resetAgentEnv(deps, agent, backend);
      expect(await run('cat /etc/y 2>/dev/null || echo no-y; cat /workspace/w')).toBe('no-y\nw\n');
      const layerDir = path.join(home.dataDir, agent.name, 'layer');
      await purgeAgentEnv(home, agent.name, layerDir);
      expect(fs.existsSync(snapshotsDir(home, agent.name))).toBe(false);
    },
    TIMEOUT_MS,
  );
});
