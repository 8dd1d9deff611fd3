// The endpoint's socket file: where it may be created, who may connect to it, and its removal.
// Only the sandbox's own uid may connect, because the socket is that sandbox's identity at the gateway.
import type { Stats } from 'node:fs';
import { chmod, chown, lstat, rm } from 'node:fs/promises';
import path from 'node:path';
import { CorralError } from '../util/errors.ts';

/** sockaddr_un.sun_path is 108 bytes on Linux, including the terminating NUL. */
const MAX_SOCKET_PATH_BYTES = 107;
const SOCKET_MODE = 0o600;

async function lstatOrUndefined(p: string): Promise<Stats | undefined> {
  try {
    return await lstat(p);
  } catch (err) {
    if (err instanceof Error && 'code' in err && err.code === 'ENOENT') return undefined;
    throw err;
  }
}

/**
 * Refuses a path that already exists (listen would also fail; this says why) and a parent directory that is a
 * symlink, belongs to someone else, or is writable by others, where the socket could be swapped or pre-empted.
 */
export async function checkSocketPath(socketPath: string): Promise<void> {
  const fail = (message: string, hint?: string): never => {
    throw new CorralError('gateway_socket_path', message, hint);
  };
  if (!path.isAbsolute(socketPath)) fail(`gateway socket path must be absolute: ${socketPath}`);
  if (Buffer.byteLength(socketPath) > MAX_SOCKET_PATH_BYTES)
    fail(
      `gateway socket path is longer than ${MAX_SOCKET_PATH_BYTES} bytes: ${socketPath}`,
      'use a shorter runtime dir',
    );
  if (await lstatOrUndefined(socketPath))
    fail(`something already exists at ${socketPath}`, 'remove the stale socket or choose another path');
  const dir = path.dirname(socketPath);
  const st = await lstatOrUndefined(dir);
  if (!st?.isDirectory()) return fail(`gateway socket directory ${dir} is missing or not a real directory`);
  if (process.getuid && st.uid !== process.getuid())
    fail(`gateway socket directory ${dir} is not owned by corral`);
  if ((st.mode & 0o022) !== 0) fail(`gateway socket directory ${dir} is writable by group or others`);
}

/** chmod 0600 and, for a sandbox running as its own uid, chown to it. */
export async function restrictSocket(
  socketPath: string,
  owner?: { uid: number; gid: number },
): Promise<void> {
  await chmod(socketPath, SOCKET_MODE);
  if (owner) await chown(socketPath, owner.uid, owner.gid);
}

/** Removes the socket file if it still is one; never follows or deletes anything else found at the path. */
export async function removeSocket(socketPath: string): Promise<void> {
  const st = await lstatOrUndefined(socketPath);
  if (st?.isSocket()) await rm(socketPath, { force: true });
}
