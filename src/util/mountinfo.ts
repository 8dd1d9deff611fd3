// Reads /proc/self/mountinfo: which file system is mounted where, and which file backs a loop device.
import fs from 'node:fs';
import path from 'node:path';

export interface MountEntry {
  /** the part of the file system mounted here ('/' for all of it; a cgroup path for a cgroup mount) */
  root: string;
  mountPoint: string;
  /** per-mount options, e.g. rw,nosuid,nodev */
  options: string[];
  fsType: string;
  /** e.g. /dev/loop3 */
  source: string;
  /** per-superblock options; for a cgroup v1 mount they name its controllers */
  superOptions: string[];
}

/** mountinfo escapes space, tab, newline and backslash as \ooo octal. */
const unescape = (s: string): string =>
  s.replace(/\\([0-7]{3})/g, (_m, oct: string) => String.fromCharCode(parseInt(oct, 8)));

export function parseMountinfo(text: string): MountEntry[] {
  const out: MountEntry[] = [];
  for (const line of text.split('\n')) {
    const fields = line.split(' ');
    const dash = fields.indexOf('-');
    const [root, mountPoint, options] = [fields[3], fields[4], fields[5]];
    const [fsType, source, opts] = [fields[dash + 1], fields[dash + 2], fields[dash + 3]];
    if (
      dash < 6 ||
      root === undefined ||
      mountPoint === undefined ||
      options === undefined ||
      fsType === undefined ||
      source === undefined
    )
      continue;
    out.push({
      root: unescape(root),
      mountPoint: unescape(mountPoint),
      options: options.split(','),
      fsType,
      source: unescape(source),
      superOptions: (opts ?? '').split(','),
    });
  }
  return out;
}

export function readMounts(mountinfo = '/proc/self/mountinfo'): MountEntry[] {
  return parseMountinfo(fs.readFileSync(mountinfo, 'utf8'));
}

export function mountsAt(dir: string, mountinfo = '/proc/self/mountinfo'): MountEntry[] {
  return readMounts(mountinfo).filter((m) => m.mountPoint === dir);
}

/** The file a loop device reads from, or undefined when it is not a (set-up) loop device. */
export function loopBackingFile(device: string): string | undefined {
  const name = path.basename(device);
  if (!/^loop\d+$/.test(name)) return undefined;
  try {
    return fs.readFileSync(`/sys/block/${name}/loop/backing_file`, 'utf8').trim();
  } catch {
    return undefined;
  }
}

/** Loop devices currently attached to `file` (still attached after an unmount means still in use somewhere). */
export function loopDevicesOf(file: string): string[] {
  let names: string[];
  try {
    names = fs.readdirSync('/sys/block').filter((n) => /^loop\d+$/.test(n));
  } catch {
    return [];
  }
  return names.map((n) => `/dev/${n}`).filter((d) => loopBackingFile(d) === file);
}
