// Test helpers for the OCI backends: a run directory, and specs on the development base image with a fresh layer.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { testImageBlocker, testImageCache } from '../../../test/fixtures/base-image.ts';
import { findBaseImage } from '../image/index.ts';
import { hasFuseOverlayfs } from '../layer/testing.ts';
import type { SandboxRoot } from '../types.ts';
import { ociDirs } from './backend.ts';
import { mountsUnder } from './mounts.ts';

export const isRoot = process.getuid?.() === 0;
export const hasRunc = spawnSync('runc', ['--version']).status === 0;
export const hasRunsc = spawnSync('runsc', ['--version']).status === 0;
/** the base image the vitest global setup built (or found cached) */
export const baseImage = findBaseImage(testImageCache());

/** Why an OCI test cannot run here, or undefined when it can. */
export function ociSkipReason(runtime: 'runc' | 'runsc'): string | undefined {
  if (!isRoot) return 'the OCI backends need root (corral maps each agent to a uid of its own)';
  if (runtime === 'runc' && !hasRunc) return 'runc is not installed';
  if (runtime === 'runsc' && !hasRunsc) return 'runsc (gVisor) is not installed';
  if (!hasFuseOverlayfs) return 'fuse-overlayfs is not installed';
  if (baseImage === undefined) return `no base image (${testImageBlocker() ?? 'not built'})`;
  return undefined;
}

/** A run directory like $CORRAL_HOME/run, traversable by agent uids (0711). */
export function tempRunDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'corral-oci-run-'));
  fs.chmodSync(dir, 0o711);
  return dir;
}

/** A sandbox root on the test base image with a layer of its own in `dir` (which the test removes). */
export function testRoot(dir: string): SandboxRoot | undefined {
  return baseImage === undefined
    ? undefined
    : { imageDir: baseImage.rootfs, imageId: baseImage.id, layerDir: path.join(dir, 'layer') };
}

/** What a stopped sandbox left behind: mounts under the run directory, its cgroup, processes of the agent uid. */
export function leftovers(runDir: string, sandboxId: string, uid: number): string[] {
  const found: string[] = [];
  for (const line of fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const mountPoint = line.split(' ')[4];
    if (mountPoint !== undefined && mountPoint.startsWith(runDir + '/')) found.push(`mount ${mountPoint}`);
  }
  for (const c of ['memory', 'pids', 'cpu']) {
    const dir = `/sys/fs/cgroup/${c}/corral/${sandboxId}`;
    if (fs.existsSync(dir)) found.push(`cgroup ${dir}`);
  }
  if (fs.existsSync(`/sys/fs/cgroup/corral/${sandboxId}`))
    found.push(`cgroup /sys/fs/cgroup/corral/${sandboxId}`);
  const procs = spawnSync('pgrep', ['-u', String(uid)], { encoding: 'utf8' }).stdout.trim();
  if (procs !== '') found.push(`processes of uid ${uid}: ${procs.replace(/\n/g, ' ')}`);
  return found;
}

/** Removes a test run directory and the backends' bundle directories for it, refusing while anything is mounted. */
export function removeRunDir(runDir: string): void {
  const oci = path.dirname(ociDirs(runDir, 'runc').base);
  for (const dir of [oci, runDir]) {
    const mounted = mountsUnder(dir);
    if (mounted.length > 0) throw new Error(`still mounted after the tests: ${mounted.join(', ')}`);
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
