// Builds one image into a private build directory: bootstrap, Node, configuration, checks, manifest.
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { CorralError } from '../../util/errors.ts';
import { bootstrapPlan, SOURCE_DATE_EPOCH, stepOfLine } from './bootstrap.ts';
import { addNode, configure, installedPackages } from './customize.ts';
import { treeSize } from './size.ts';
import type { ImageInputs, ImageManifest, ImageProgress, ImageStep } from './types.ts';
import { IMAGE_STEPS } from './types.ts';

const run = promisify(execFile);

export const BUILD_TIMEOUT_MS = 20 * 60_000;
const BYTES_EVERY_MS = 1_000;
const LOG_TAIL_LINES = 30;
/** Host variables the bootstrap may need: where to find tools, and a proxy to reach the mirror through. */
const PASSED_ENV = ['PATH', 'http_proxy', 'https_proxy', 'HTTP_PROXY', 'HTTPS_PROXY', 'no_proxy', 'NO_PROXY'];

export interface BuildRequest {
  id: string;
  inputs: ImageInputs;
  nodePath: string;
  /** empty directory of ours; the image ends up in `<buildDir>/rootfs` and `<buildDir>/manifest.json` */
  buildDir: string;
  onProgress: (e: ImageProgress) => void;
  signal?: AbortSignal;
}

/** Tracks the current step (it only moves forward) and reports the growing size of the build directory. */
function stepper(req: BuildRequest, started: number) {
  let step: ImageStep = 'resolving';
  let bytes = 0;
  const emit = (type: 'step' | 'bytes'): void =>
    req.onProgress({ type, step, bytes, elapsedMs: Date.now() - started });
  let measuring = false;
  const timer = setInterval(() => {
    if (measuring) return;
    measuring = true;
    void treeSize(req.buildDir)
      .then((b) => {
        bytes = b;
        emit('bytes');
      })
      .finally(() => (measuring = false));
  }, BYTES_EVERY_MS);
  emit('step');
  return {
    to(next: ImageStep): void {
      if (IMAGE_STEPS.indexOf(next) <= IMAGE_STEPS.indexOf(step)) return;
      step = next;
      emit('step');
    },
    stop: () => clearInterval(timer),
  };
}

function bootstrapEnv(buildDir: string): Record<string, string> {
  const env: Record<string, string> = {
    HOME: buildDir,
    TMPDIR: buildDir,
    LC_ALL: 'C.UTF-8',
    SOURCE_DATE_EPOCH,
    DEBIAN_FRONTEND: 'noninteractive',
  };
  for (const k of PASSED_ENV) {
    const v = process.env[k];
    if (v !== undefined) env[k] = v;
  }
  env['PATH'] ??= '/usr/sbin:/usr/bin:/sbin:/bin';
  return env;
}

async function runBootstrap(req: BuildRequest, argv: string[], onLine: (l: string) => void): Promise<void> {
  const [cmd, ...args] = argv;
  if (cmd === undefined) throw new Error('empty bootstrap command');
  const child = spawn(cmd, args, { env: bootstrapEnv(req.buildDir), stdio: ['ignore', 'pipe', 'pipe'] });
  const tail: string[] = [];
  let pending = '';
  const onData = (chunk: Buffer): void => {
    pending += chunk.toString('utf8');
    const lines = pending.split(/\r|\n/);
    pending = lines.pop() ?? '';
    for (const l of lines.filter((x) => x.trim() !== '')) {
      tail.push(l);
      if (tail.length > LOG_TAIL_LINES) tail.shift();
      onLine(l);
    }
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const kill = (): boolean => child.kill('SIGKILL');
  const timer = setTimeout(kill, BUILD_TIMEOUT_MS);
  req.signal?.addEventListener('abort', kill, { once: true });
  try {
    const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve, reject) => {
      child.once('error', reject);
      child.once('exit', (c, s) => resolve([c, s]));
    });
    req.signal?.throwIfAborted();
    if (code !== 0) {
      throw new CorralError(
        'image_build_failed',
        `${req.inputs.tool} failed (${signal ?? `exit ${code}`}):\n${tail.join('\n')}`,
        'check that deb.debian.org is reachable (or set http_proxy), then run: corral image build',
      );
    }
  } finally {
    clearTimeout(timer);
    req.signal?.removeEventListener('abort', kill);
  }
}

/** Runs /usr/local/bin/node inside the new rootfs (as root of a throwaway user namespace): its libraries are there. */
async function nodeVersionInside(rootfs: string): Promise<string> {
  try {
    const { stdout } = await run(
      'unshare',
      ['--user', '--map-root-user', `--root=${rootfs}`, '/usr/local/bin/node', '--version'],
      { env: { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' } },
    );
    return stdout.trim();
  } catch (err) {
    throw new CorralError(
      'image_node_broken',
      `the host's node does not run inside the image: ${err instanceof Error ? err.message : String(err)}`,
      'a node linked against libraries newer than Debian bookworm cannot run there; use an official Node build',
      { cause: err },
    );
  }
}

export async function buildImage(req: BuildRequest): Promise<ImageManifest> {
  const started = Date.now();
  req.onProgress({ type: 'build', imageId: req.id, tool: req.inputs.tool, mode: req.inputs.mode });
  const steps = stepper(req, started);
  try {
    const plan = bootstrapPlan(req.inputs, req.buildDir);
    await runBootstrap(req, plan.argv, (line) => {
      const s = stepOfLine(line);
      if (s !== undefined) steps.to(s);
    });
    const rootfs = path.join(req.buildDir, 'rootfs');
    if (plan.output.kind === 'tar') {
      fs.mkdirSync(rootfs, { mode: 0o755 });
      // files become ours (we are not root); device nodes are left out, the backends provide /dev
      await run('tar', ['-xpf', plan.output.path, '-C', rootfs, '--no-same-owner', '--exclude=./dev/*']);
      fs.rmSync(plan.output.path, { force: true });
    }
    steps.to('adding node');
    addNode(rootfs, req.nodePath);
    steps.to('finishing');
    configure(rootfs, req.inputs);
    const nodeVersion = await nodeVersionInside(rootfs);
    const manifest: ImageManifest = {
      id: req.id,
      inputs: req.inputs,
      created: new Date().toISOString(),
      nodeVersion,
      packages: installedPackages(rootfs),
      sizeBytes: await treeSize(rootfs),
      buildMs: Date.now() - started,
    };
    fs.writeFileSync(path.join(req.buildDir, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n', {
      mode: 0o644,
    });
    return manifest;
  } finally {
    steps.stop();
  }
}
