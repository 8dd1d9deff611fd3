// Host-side bind mounts that stage a sandbox's host paths inside its bundle, where the agent's uid can reach them.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { CorralError } from '../../util/errors.ts';

const run = promisify(execFile);
const TOOL_ENV = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C' };
const MOUNT_TIMEOUT_MS = 10_000;

/** Mount points at or below `dir`, deepest first (the order to unmount them in). */
export function mountsUnder(dir: string, mountinfo?: string): string[] {
  const text = mountinfo ?? fs.readFileSync('/proc/self/mountinfo', 'utf8');
  const root = path.resolve(dir);
  const found = new Set<string>();
  for (const line of text.split('\n')) {
    const field = line.split(' ')[4];
    if (field === undefined) continue;
    // mountinfo escapes space, tab, newline and backslash as \ooo
    const p = field.replace(/\\([0-7]{3})/g, (_m, oct: string) => String.fromCharCode(parseInt(oct, 8)));
    if (p === root || p.startsWith(root + '/')) found.add(p);
  }
  return [...found].sort((a, b) => b.length - a.length);
}

/** `mount --bind source target`; the target must already exist (a directory, or a file for a file). */
export async function bindMount(source: string, target: string): Promise<void> {
  try {
    await run('mount', ['--bind', source, target], { env: TOOL_ENV, timeout: MOUNT_TIMEOUT_MS });
  } catch (err) {
    throw new CorralError(
      'sandbox_mount',
      `cannot stage ${source} for the sandbox: ${err instanceof Error ? err.message : String(err)}`,
      'run: corral doctor',
    );
  }
}

/**
 * Binds an open directory descriptor of this process at `target` (read-only when asked): the kernel follows the
 * /proc magic link to exactly that directory, and `--no-canonicalize` keeps mount(8) from turning it back into a
 * path (which could have been swapped since it was checked).
 */
export async function bindDescriptor(fd: number, target: string, readOnly: boolean): Promise<void> {
  const source = `/proc/${process.pid}/fd/${fd}`;
  try {
    await run('mount', ['--no-canonicalize', '--bind', source, target], {
      env: TOOL_ENV,
      timeout: MOUNT_TIMEOUT_MS,
    });
    if (readOnly)
      await run('mount', ['--no-canonicalize', '-o', 'remount,bind,ro', target], {
        env: TOOL_ENV,
        timeout: MOUNT_TIMEOUT_MS,
      });
  } catch (err) {
    throw new CorralError(
      'sandbox_mount',
      `cannot stage a host folder for the sandbox at ${target}: ${err instanceof Error ? err.message : String(err)}`,
      'run: corral doctor',
    );
  }
}

/** Unmounts every mount at or below `dir`, deepest first, in one `umount` (lazily for what stays busy). */
export async function unmountUnder(dir: string): Promise<void> {
  const targets = mountsUnder(dir);
  if (targets.length === 0) return;
  try {
    await run('umount', targets, { env: TOOL_ENV, timeout: MOUNT_TIMEOUT_MS });
  } catch {
    const left = mountsUnder(dir);
    if (left.length > 0)
      await run('umount', ['--lazy', ...left], { env: TOOL_ENV, timeout: MOUNT_TIMEOUT_MS });
  }
}
