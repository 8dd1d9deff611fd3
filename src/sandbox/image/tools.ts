// Which bootstrap tool this host has, and how it gets root inside: really (as root) or in a user namespace.
import fs from 'node:fs';
import path from 'node:path';
import os from 'node:os';
import { CorralError } from '../../util/errors.ts';
import type { ImageInputs } from './types.ts';

const SEARCH = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];

export function onPath(cmd: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const dirs = [...(env['PATH'] ?? '').split(':').filter((d) => d !== ''), ...SEARCH];
  for (const d of dirs) {
    const full = path.join(d, cmd);
    try {
      fs.accessSync(full, fs.constants.X_OK);
      return full;
    } catch {
      // next
    }
  }
  return undefined;
}

/** mmdebstrap when installed (it also works without root), else debootstrap. */
export function chooseTool(): ImageInputs['tool'] | undefined {
  if (onPath('mmdebstrap') !== undefined) return 'mmdebstrap';
  if (onPath('debootstrap') !== undefined) return 'debootstrap';
  return undefined;
}

function hasSubordinateIds(file: string, user: string, uid: number): boolean {
  try {
    return fs
      .readFileSync(file, 'utf8')
      .split('\n')
      .some((l) => {
        const name = l.split(':')[0];
        return name === user || name === String(uid);
      });
  } catch {
    return false;
  }
}

/** Root builds with --mode=root; anyone else needs mmdebstrap's unshare mode and subordinate ids. */
export function buildMode(tool: ImageInputs['tool']): ImageInputs['mode'] {
  const uid = process.getuid?.() ?? 0;
  if (uid === 0) return 'root';
  const user = os.userInfo().username;
  if (tool !== 'mmdebstrap') {
    throw new CorralError(
      'image_needs_root',
      'building the base image without root needs mmdebstrap (debootstrap runs only as root)',
      'apt-get install mmdebstrap, or run: sudo corral image build',
    );
  }
  if (!hasSubordinateIds('/etc/subuid', user, uid) || !hasSubordinateIds('/etc/subgid', user, uid)) {
    throw new CorralError(
      'image_no_subids',
      `building the base image as ${user} needs subordinate ids for ${user} in /etc/subuid and /etc/subgid`,
      `sudo usermod --add-subuids 200000-265535 --add-subgids 200000-265535 ${user}, or run: sudo corral image build`,
    );
  }
  return 'unshare';
}

/** Why this host cannot build the image (no tool, no root and no subordinate ids), or undefined when it can. */
export function buildBlocker(): string | undefined {
  const tool = chooseTool();
  if (tool === undefined) return 'neither mmdebstrap nor debootstrap is installed';
  try {
    buildMode(tool);
    return undefined;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}
