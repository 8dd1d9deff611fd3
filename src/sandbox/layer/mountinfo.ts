// Reads /proc/self/mountinfo: which fuse-overlayfs mounts exist, and where. The kernel's list, not a record we keep.
import fs from 'node:fs';
import path from 'node:path';

export const LAYER_FSTYPE = 'fuse.fuse-overlayfs';

export interface MountEntry {
  mountPoint: string;
  fsType: string;
  /** per-mount options, e.g. rw,nosuid,nodev */
  options: string[];
}

/** mountinfo escapes space, tab, newline and backslash as \ooo */
function unescape(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_m, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

export function parseMountinfo(text: string): MountEntry[] {
  const entries: MountEntry[] = [];
  for (const line of text.split('\n')) {
    const fields = line.split(' ');
    const sep = fields.indexOf('-', 6);
    const mountPoint = fields[4];
    const options = fields[5];
    const fsType = fields[sep + 1];
    if (sep < 0 || mountPoint === undefined || options === undefined || fsType === undefined) continue;
    entries.push({ mountPoint: unescape(mountPoint), fsType, options: options.split(',') });
  }
  return entries;
}

export function readMounts(file = '/proc/self/mountinfo'): MountEntry[] {
  return parseMountinfo(fs.readFileSync(file, 'utf8'));
}

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
