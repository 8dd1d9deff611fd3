// Which fuse-overlayfs mounts exist, and where, from /proc/self/mountinfo: the kernel's list, not a record we keep.
import path from 'node:path';
import type { MountEntry } from '../../util/mountinfo.ts';
import { readMounts } from '../../util/mountinfo.ts';

export const LAYER_FSTYPE = 'fuse.fuse-overlayfs';

/** fuse-overlayfs mounts at `dir` itself or anywhere below it, deepest first (the order to unmount them in). */
export function layerMountsUnder(dir: string, mounts: MountEntry[] = readMounts()): string[] {
  const root = path.resolve(dir);
  return mounts
    .filter((m) => m.fsType === LAYER_FSTYPE)
    .map((m) => m.mountPoint)
    .filter((p) => p === root || p.startsWith(root + '/'))
    .sort((a, b) => b.length - a.length);
}

export function isLayerMounted(mountpoint: string, mounts: MountEntry[] = readMounts()): boolean {
  const p = path.resolve(mountpoint);
  return mounts.some((m) => m.fsType === LAYER_FSTYPE && m.mountPoint === p);
}
