// Stable per-agent bind sources for the agent's long-lived container: Docker fixes a container's mounts when it
// is created, while the runtime bundle, the gateway socket and the CA bundle are made per session. Each session
// refreshes these directories (copies, hard links) instead, and the container keeps its mounts.
import fs from 'node:fs';
import path from 'node:path';
import { ENV_GATEWAY_SOCKET, SANDBOX_GATEWAY_DIR } from '../../protocol/sandbox-env.ts';
import { CorralError } from '../../util/errors.ts';
import type { SandboxSpec } from '../types.ts';

export interface StableBinds {
  base: string;
  runtimeDir: string;
  gatewayDir: string;
  caBundle: string;
}

/**
 * Under corral's run dir, next to the sessions' gateway sockets: a hard link needs one file system, and the
 * agent's layer dir may be its own volume.
 */
export function stableBinds(runDir: string, agent: string): StableBinds {
  const base = path.join(runDir, 'docker', 'agents', agent);
  return {
    base,
    runtimeDir: path.join(base, 'runtime'),
    gatewayDir: path.join(base, 'gateway'),
    caBundle: path.join(base, 'ca-bundle.crt'),
  };
}

/** A session key as a directory name (keys are UUIDs plus a suffix; anything else is refused, not escaped). */
function sessionDirName(sessionKey: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/.test(sessionKey)) {
    throw new CorralError('docker_sandbox_id', `sandbox id '${sessionKey}' is not a plain name`);
  }
  return sessionKey;
}

function replaceFile(write: (tmp: string) => void, dest: string): void {
  const tmp = `${dest}.${process.pid}.tmp`;
  fs.rmSync(tmp, { force: true });
  write(tmp);
  fs.renameSync(tmp, dest);
}

/** Copies regular files (recursively) unless the copy already has the same size and mtime; never removes any. */
function syncCopy(from: string, to: string): void {
  fs.mkdirSync(to, { recursive: true, mode: 0o755 });
  for (const entry of fs.readdirSync(from, { withFileTypes: true })) {
    const src = path.join(from, entry.name);
    const dest = path.join(to, entry.name);
    if (entry.isDirectory()) {
      syncCopy(src, dest);
      continue;
    }
    if (!entry.isFile()) continue;
    const st = fs.statSync(src);
    const have = fs.statSync(dest, { throwIfNoEntry: false });
    if (have !== undefined && have.size === st.size && have.mtimeMs === st.mtimeMs) continue;
    replaceFile((tmp) => {
      fs.copyFileSync(src, tmp);
      fs.chmodSync(tmp, 0o644);
      fs.utimesSync(tmp, st.atime, st.mtime);
    }, dest);
  }
}

function hardLink(src: string, dest: string): void {
  try {
    replaceFile((tmp) => fs.linkSync(src, tmp), dest);
  } catch (err) {
    if (err instanceof Error && 'code' in err && err.code === 'EXDEV') {
      throw new CorralError(
        'docker_cross_device',
        `cannot link ${src} into ${path.dirname(dest)}: they are on different file systems`,
        'keep $CORRAL_HOME (its run/ and the agents’ layer directories) on one file system',
        { cause: err },
      );
    }
    throw err;
  }
}

/**
 * Brings the stable directories up to this session: the runtime bundle copied, every entry of the session's
 * gateway dir hard-linked under gateway/<sessionKey>/ (and gateway/ itself, for the newest session), the CA
 * bundle copied. Returns the session's environment with the gateway socket variable pointing at its own link,
 * so two sessions of one agent in one container never share a socket (the socket says which run to bill).
 */
export function refreshStableBinds(
  spec: SandboxSpec,
  sessionKey: string,
  binds: StableBinds,
): Record<string, string> {
  fs.mkdirSync(binds.base, { recursive: true, mode: 0o711 });
  syncCopy(spec.runtimeDir, binds.runtimeDir);
  fs.mkdirSync(binds.gatewayDir, { recursive: true, mode: 0o711 });
  const name = sessionDirName(sessionKey);
  const own = path.join(binds.gatewayDir, name);
  fs.mkdirSync(own, { recursive: true, mode: 0o711 });
  for (const entry of fs.readdirSync(spec.gatewayDir)) {
    hardLink(path.join(spec.gatewayDir, entry), path.join(own, entry));
    hardLink(path.join(spec.gatewayDir, entry), path.join(binds.gatewayDir, entry));
  }
  if (spec.caBundle !== undefined) {
    const ca = spec.caBundle;
    replaceFile((tmp) => {
      fs.copyFileSync(ca, tmp);
      fs.chmodSync(tmp, 0o644);
    }, binds.caBundle);
  }
  const env = { ...spec.env };
  const socket = env[ENV_GATEWAY_SOCKET];
  if (socket?.startsWith(`${SANDBOX_GATEWAY_DIR}/`) === true) {
    env[ENV_GATEWAY_SOCKET] =
      `${SANDBOX_GATEWAY_DIR}/${name}/${socket.slice(SANDBOX_GATEWAY_DIR.length + 1)}`;
  }
  return env;
}

/** Removes the session's links (the directory holds only what refreshStableBinds put there). */
export function dropSessionLinks(sessionKey: string, binds: StableBinds): void {
  fs.rmSync(path.join(binds.gatewayDir, sessionDirName(sessionKey)), { recursive: true, force: true });
}

/** Removes the link directories of sessions that are not live any more (their corral process died). */
export function pruneSessionLinks(binds: StableBinds, live: Set<string>): void {
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(binds.gatewayDir, { withFileTypes: true });
  } catch {
    return;
  }
  for (const e of entries) {
    if (e.isDirectory() && !live.has(e.name)) {
      fs.rmSync(path.join(binds.gatewayDir, e.name), { recursive: true, force: true });
    }
  }
}
