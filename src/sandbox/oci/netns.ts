// The runc sandbox's network: a namespace corral creates host-side with loopback up and nothing else. It belongs
// to the host's user namespace, so the agent (root only of its own) can neither take lo down nor add a device.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import { promisify } from 'node:util';
import { CorralError } from '../../util/errors.ts';

const run = promisify(execFile);
const TOOL_ENV = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C' };
const NETNS_TIMEOUT_MS = 10_000;

/** Creates a network namespace pinned at `file` (a bind mount of its nsfs inode) with lo up. */
export async function createLoopbackNetns(file: string): Promise<void> {
  fs.writeFileSync(file, '', { mode: 0o600, flag: 'wx' });
  try {
    // unshare binds the new namespace onto `file`, then runs `ip` inside it
    await run('unshare', [`--net=${file}`, '--', 'ip', 'link', 'set', 'lo', 'up'], {
      env: TOOL_ENV,
      timeout: NETNS_TIMEOUT_MS,
    });
  } catch (err) {
    await removeNetns(file);
    throw new CorralError(
      'sandbox_netns',
      `cannot create the sandbox's network namespace: ${err instanceof Error ? err.message : String(err)}`,
      'check that util-linux (unshare) and iproute2 (ip) are installed: corral doctor',
    );
  }
}

/** Unmounts and removes a pinned namespace; the namespace itself ends with its last user. */
export async function removeNetns(file: string): Promise<void> {
  // umount fails when nothing is mounted there (a half-made namespace): then only the file remains
  await run('umount', [file], { env: TOOL_ENV, timeout: NETNS_TIMEOUT_MS }).catch(() => undefined);
  fs.rmSync(file, { force: true });
}
