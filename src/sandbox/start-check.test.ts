// The start self-test on every backend this machine runs: the real runtime starts in a real sandbox, reports what
// it sees from inside with `ready`, and the host's judge passes it; then one planted failure per backend (a
// variable holding a secret value, slipped in after the host decided the environment) fails it, naming the check.
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { testImageCache } from '../../test/fixtures/base-image.ts';
import { microvmBlocker, microvmTestOptions } from '../../test/fixtures/microvm.ts';
import { openControlChannel } from '../host/control.ts';
import { runtimeEnv } from '../host/launch.ts';
import { SANDBOX_RUNTIME_DIR } from '../protocol/sandbox-env.ts';
import { silentLogger } from '../util/log.ts';
import { createBwrapBackend } from './bwrap/backend.ts';
import { createDockerBackend } from './docker/backend.ts';
import { testDaemon } from './docker/test-daemon.ts';
import { findBaseImage } from './image/index.ts';
import { hasFuseOverlayfs } from './layer/testing.ts';
import { createMicrovmBackend } from './microvm/backend.ts';
import { createGvisorBackend } from './oci/gvisor.ts';
import { createRuncBackend } from './oci/runc.ts';
import { ociSkipReason } from './oci/testing.ts';
import { ensureRuntimeBundle, RUNTIME_FILE } from './runtime-bundle.ts';
import { judgeStartReport } from './start-check.ts';
import type { HostIds, SandboxBackend, SandboxSpec } from './types.ts';
import { DEFAULT_LIMITS } from './types.ts';

const isRoot = process.getuid?.() === 0;
const image = findBaseImage(testImageCache());
const daemon = await testDaemon();
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'corral-startcheck-'));
fs.chmodSync(scratch, 0o711);
const runDir = path.join(scratch, 'run');
fs.mkdirSync(runDir, { mode: 0o711 });
afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));

const PLANTED = 'sk-planted-secret-value';
const T = 120_000;

interface Case {
  name: string;
  skip: string | undefined;
  make: () => SandboxBackend;
  ids: HostIds | undefined;
  /** Docker keeps the image in its defaultRoot; the others get a fresh layer */
  root: boolean;
  scale?: number;
}

const noImage = image === undefined ? 'no base image in the test cache' : undefined;
const dockerSkip = daemon.skip ?? noImage;
const cases: Case[] = [
  {
    name: 'bwrap',
    skip: noImage ?? (hasFuseOverlayfs ? undefined : 'fuse-overlayfs is not installed'),
    make: () => createBwrapBackend({ log: silentLogger, runDir }),
    ids: isRoot ? { uid: 1_500_000_940, gid: 1_500_000_940 } : undefined,
    root: true,
  },
  {
    name: 'runc',
    skip: ociSkipReason('runc'),
    make: () => createRuncBackend({ log: silentLogger, runDir }),
    ids: { uid: 1_500_000_941, gid: 1_500_000_941 },
    root: true,
  },
  {
    name: 'gvisor',
    skip: ociSkipReason('runsc'),
    make: () => createGvisorBackend({ log: silentLogger, runDir }),
    ids: { uid: 1_500_000_942, gid: 1_500_000_942 },
    root: true,
  },
  ...['runc', 'runsc'].map((runtime): Case => ({
    name: `docker${runtime === 'runc' ? '' : '+runsc'}`,
    skip:
      dockerSkip ??
      (runtime === 'runsc' && !daemon.runtimes.includes('runsc')
        ? 'dockerd has no runsc runtime'
        : undefined),
    make: () =>
      createDockerBackend({
        log: silentLogger,
        homeDir: scratch,
        runDir,
        ...(runtime === 'runc' ? {} : { runtime }),
        ...(daemon.image === undefined ? {} : { defaultRoot: daemon.image }),
      }),
    ids: daemon.root,
    root: false,
  })),
  {
    name: 'microvm',
    skip: noImage ?? microvmBlocker(),
    make: () => createMicrovmBackend({ log: silentLogger, runDir, ...microvmTestOptions() }),
    ids: isRoot ? { uid: 1_500_000_943, gid: 1_500_000_943 } : undefined,
    root: true,
    scale: 6,
  },
];

let n = 0;
/** A sandbox dir like launch.ts makes: workspace, gateway socket (a listener standing in for the gateway), etc. */
async function startRuntime(c: Case, backend: SandboxBackend, plant: boolean) {
  const dir = path.join(runDir, `${c.name.replace('+', '-')}-${++n}`);
  for (const d of ['', 'workspace', 'gw', 'etc']) fs.mkdirSync(path.join(dir, d), { mode: 0o711 });
  if (c.ids !== undefined) fs.chownSync(path.join(dir, 'workspace'), c.ids.uid, c.ids.gid);
  const socketPath = path.join(dir, 'gw', 'gateway.sock');
  const gateway = net.createServer((s) => s.destroy());
  await new Promise<void>((r) => gateway.listen(socketPath, r));
  if (c.ids !== undefined) fs.chownSync(socketPath, c.ids.uid, c.ids.gid);
  const spec: SandboxSpec = {
    sandboxId: path.basename(dir),
    agent: `startcheck-${c.name.replace('+', '-')}`,
    runDir: dir,
    workspaceDir: path.join(dir, 'workspace'),
    runtimeDir: await ensureRuntimeBundle(path.join(scratch, 'cache')),
    gatewayDir: path.join(dir, 'gw'),
    etcDir: path.join(dir, 'etc'),
    hostIds: c.ids,
    env: runtimeEnv(),
    limits: DEFAULT_LIMITS,
    extraReadOnly: [],
    ...(c.root && image !== undefined
      ? { root: { imageDir: image.rootfs, imageId: image.id, layerDir: path.join(dir, 'layer') } }
      : {}),
    command: ['/usr/local/bin/node', `${SANDBOX_RUNTIME_DIR}/${RUNTIME_FILE}`],
  };
  // the planted failure: the backend is handed one more variable than the host decided on, holding a secret
  const started = await backend.start(plant ? { ...spec, env: { ...spec.env, PLANTED_KEY: PLANTED } } : spec);
  const channel = openControlChannel(started, silentLogger);
  try {
    await channel.ready(30_000 * (c.scale ?? 1) + (backend.bootAllowanceMs?.() ?? 0));
    return judgeStartReport(channel.startReport?.(), {
      env: spec.env,
      limits: spec.limits,
      applied: started.appliedLimits,
      ...(backend.ownDevices === undefined ? {} : { ownDevices: backend.ownDevices }),
      secrets: [PLANTED],
    });
  } finally {
    channel.send({ type: 'shutdown' });
    await started.stop();
    gateway.close();
    if (spec.root !== undefined) await backend.resetLayer?.(spec.agent, spec.root.layerDir);
  }
}

for (const c of cases) {
  describe.skipIf(c.skip !== undefined)(
    `start self-test: ${c.name}${c.skip ? ` (skipped: ${c.skip})` : ''}`,
    () => {
      const backend = c.make();
      it(
        'the runtime reports from inside, and the boundary holds as configured',
        async () => {
          expect(await startRuntime(c, backend, false)).toEqual([]);
        },
        T * (c.scale ?? 1),
      );
      it(
        'a planted secret in the environment fails it, naming the check',
        async () => {
          const failures = await startRuntime(c, backend, true);
          expect(failures).toContain('a secret value is in the environment: PLANTED_KEY');
          expect(failures).toContain('variables the host did not set are in the environment: PLANTED_KEY');
        },
        T * (c.scale ?? 1),
      );
    },
  );
}
