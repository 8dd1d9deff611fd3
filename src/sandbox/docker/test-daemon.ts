// Test helpers: is a usable dockerd reachable here (remapped ids, runtimes, the base image)? Scratch specs.
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createDockerApi } from './api.ts';
import type { DockerApi } from './api.ts';
import { createDockerHttp, dockerSocketPath } from './http.ts';
import { remappedRoot } from './probe.ts';
import { testBaseImage, testImageBlocker } from '../../../test/fixtures/base-image.ts';
import type { HostIds, Sandbox, SandboxExit, SandboxRoot, SandboxSpec } from '../types.ts';
import { DEFAULT_LIMITS } from '../types.ts';

export interface TestDaemon {
  /** why the Docker tests skip; undefined: they run */
  skip: string | undefined;
  api: DockerApi;
  root: HostIds | undefined;
  runtimes: string[];
  /** the cached base image (test/fixtures/base-image.ts) */
  image: Pick<SandboxRoot, 'imageDir' | 'imageId'> | undefined;
}

export async function testDaemon(): Promise<TestDaemon> {
  const api = createDockerApi(createDockerHttp(dockerSocketPath()));
  const absent = (skip: string): TestDaemon => ({
    skip,
    api,
    root: undefined,
    runtimes: [],
    image: undefined,
  });
  if (process.getuid?.() !== 0) return absent('the docker backend needs root');
  const noImage = testImageBlocker();
  if (noImage !== undefined) return absent(`no base image: ${noImage}`);
  try {
    await api.ping();
  } catch (err) {
    return absent(
      `no Docker daemon at ${api.socketPath} (${String(err)}); start one with scripts/start-dockerd.sh`,
    );
  }
  // reachable: from here on a daemon without remapping is a failure, not a skip
  const info = await api.info();
  const image = await testBaseImage();
  return {
    skip: undefined,
    api,
    root: remappedRoot(info),
    runtimes: Object.keys(info.Runtimes ?? {}),
    image: { imageDir: image.rootfs, imageId: image.id },
  };
}

/** Scratch directories for Docker tests: one workspace per agent (kept across its sandboxes), a run dir, a home. */
export function createScratch(daemon: TestDaemon) {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'corral-docker-test-'));
  fs.chmodSync(root, 0o711);
  const runDir = path.join(root, 'run');
  fs.mkdirSync(runDir, { mode: 0o711 });
  let n = 0;
  const workspace = (agent: string): string => {
    const dir = path.join(root, 'agents', agent, 'workspace');
    if (!fs.existsSync(dir)) {
      fs.mkdirSync(dir, { recursive: true, mode: 0o711 });
      if (daemon.root !== undefined) fs.chownSync(dir, daemon.root.uid, daemon.root.gid);
    }
    return dir;
  };
  const layerDir = (agent: string): string => path.join(root, 'agents', agent, 'layer');
  return {
    root,
    runDir,
    workspace,
    layerDir,
    spec(agent: string, command: string[], over: Partial<SandboxSpec> = {}): SandboxSpec {
      n += 1;
      const sandboxId = `t${n}-${crypto.randomBytes(4).toString('hex')}`;
      const dirs = ['runtime', 'gw', 'etc'].map((d) => path.join(runDir, sandboxId, d));
      for (const d of dirs) fs.mkdirSync(d, { recursive: true, mode: 0o711 });
      const [runtimeDir = '', gatewayDir = '', etcDir = ''] = dirs;
      const image = daemon.image;
      return {
        sandboxId,
        agent,
        workspaceDir: workspace(agent),
        runtimeDir,
        gatewayDir,
        etcDir,
        ...(image === undefined ? {} : { root: { ...image, layerDir: layerDir(agent) } }),
        hostIds: daemon.root,
        env: { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' },
        limits: DEFAULT_LIMITS,
        extraReadOnly: [],
        command,
        ...over,
      };
    },
    cleanup(): void {
      fs.rmSync(root, { recursive: true, force: true });
    },
  };
}

export type Scratch = ReturnType<typeof createScratch>;

/** Runs a sandbox to its end and returns what it printed. */
export async function runToEnd(
  sandbox: Sandbox,
  stdin = '',
): Promise<{ out: string; err: string; exit: SandboxExit }> {
  let out = '';
  let err = '';
  sandbox.stdout.on('data', (c: Buffer) => (out += c.toString()));
  sandbox.stderr.on('data', (c: Buffer) => (err += c.toString()));
  sandbox.stdin.end(stdin);
  const exit = await sandbox.exited;
  return { out, err, exit };
}
