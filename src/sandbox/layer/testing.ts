// Test helpers for layers: the base image to mount, and a way to act as an agent's uid on a merged tree.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';

/** Prebuilt development rootfs (read-only to tests) until the image part provides a cached test image. */
export const DEV_ROOTFS = '/var/cache/corral-dev/rootfs';

export function devBaseImage(): string | undefined {
  return fs.existsSync(`${DEV_ROOTFS}/usr/bin/dpkg`) ? DEV_ROOTFS : undefined;
}

export const hasFuseOverlayfs =
  spawnSync('fuse-overlayfs', ['--version']).status === 0 &&
  spawnSync('fusermount3', ['--version']).status === 0;

/** Runs a shell script as `uid`, made root of a fresh user namespace: how an agent's root reaches its layer. */
export function asAgentRoot(uid: number, script: string): { out: string; code: number | null } {
  const r = spawnSync(
    'setpriv',
    [
      '--reuid',
      String(uid),
      '--regid',
      String(uid),
      '--clear-groups',
      '--',
      'unshare',
      '--user',
      '--map-root-user',
      '--',
      '/bin/sh',
      '-c',
      script,
    ],
    { encoding: 'utf8', env: { PATH: '/usr/bin:/bin' } },
  );
  return { out: `${r.stdout}${r.stderr}`, code: r.status };
}
