// Can this host give agents a writable layer over the base image? Says why not, and what fixes it.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import type { Availability } from '../types.ts';

function runs(cmd: string): boolean {
  return spawnSync(cmd, ['--version'], { env: { PATH: '/usr/bin:/bin' }, timeout: 5_000 }).status === 0;
}

export function layerAvailability(isRoot: boolean): Availability {
  const sudo = isRoot ? '' : 'sudo ';
  if (!runs('fuse-overlayfs'))
    return {
      ok: false,
      reason: 'fuse-overlayfs is not installed',
      fix: `${sudo}apt-get install -y fuse-overlayfs`,
    };
  if (!runs('fusermount3'))
    return {
      ok: false,
      reason: 'fusermount3 (fuse3) is not installed',
      fix: `${sudo}apt-get install -y fuse3`,
    };
  if (!isRoot) {
    try {
      fs.accessSync('/dev/fuse', fs.constants.R_OK | fs.constants.W_OK);
    } catch {
      return {
        ok: false,
        reason: '/dev/fuse is not open to this user, so fuse-overlayfs cannot mount agent layers',
        fix: 'sudo chmod 0666 /dev/fuse (the usual mode), or run corral as root',
      };
    }
  }
  return { ok: true, detail: 'fuse-overlayfs layers over the base image' };
}
