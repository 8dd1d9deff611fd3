// Host folders an agent's definition lists under `mounts`, resolved into facts decide() judges and, when allowed,
// an open descriptor of exactly the directory that was checked. The path must be written as its real path: every
// component is lstat'ed, so a symlink anywhere (one that leads out, or a symlinked parent that makes an allowed
// path an alias) is refused, as are `.`/`..`, sensitive names, corral's home, and anything outside the operator's
// allowlist (corral.yaml `mounts.allow`, which no agent file can change). The directory is then opened with
// O_NOFOLLOW|O_DIRECTORY and the descriptor checked against what was lstat'ed, so a swap after the check is seen.
import fs from 'node:fs';
import path from 'node:path';
import type { AgentMount } from '../config/governance.ts';
import type { MountFacts } from '../policy/decide.ts';
import { parseMountinfo } from '../util/mountinfo.ts';

/** Names never mounted, wherever they appear in the path or directly inside the folder. */
export const SENSITIVE_NAMES = ['.ssh', '.aws', '.gnupg', '.env', '.kube', '.docker'] as const;

const isSensitive = (name: string): boolean =>
  SENSITIVE_NAMES.some((s) => name === s) || name.startsWith('.env.');

const under = (p: string, root: string): boolean =>
  p === root || p.startsWith(root.endsWith('/') ? root : `${root}/`);

export interface MountCheck {
  mount: AgentMount;
  /** the path decide() sees as the resource: the checked real path, or the path as written when refused early */
  resource: string;
  facts: MountFacts;
  /** identity of the checked directory, to compare with the opened descriptor */
  id?: { dev: number; ino: number };
}

export interface MountContext {
  /** corral.yaml mounts.allow */
  allow: readonly string[];
  /** $CORRAL_HOME: never mounted, nor any folder that contains it */
  home: string;
  /** the text of /proc/self/mountinfo (tests pass their own) */
  mountinfo?: string;
}

/**
 * The folder as its file system knows it. realpath cannot see through a bind mount: /srv/shared may be the host's
 * /home/alice/.ssh mounted there, so the sensitive names are checked on this path too.
 */
export function backingPath(real: string, mountinfo: string): string {
  let best: { root: string; mountPoint: string } | undefined;
  for (const e of parseMountinfo(mountinfo))
    if (under(real, e.mountPoint) && (best === undefined || e.mountPoint.length >= best.mountPoint.length))
      best = e;
  return best === undefined ? real : path.join(best.root, path.relative(best.mountPoint, real));
}

const refused = (mount: AgentMount, reason: string): MountCheck => ({
  mount,
  resource: mount.host,
  facts: { declared: true, refused: `mount ${mount.host}: ${reason}` },
});

/** Walks the path component by component with lstat; the first symlink (or missing part) is the answer. */
function walk(p: string): { ok: true; st: fs.Stats } | { ok: false; reason: string } {
  let at = '/';
  let st = fs.lstatSync(at);
  for (const part of p.split('/').filter((x) => x !== '')) {
    at = path.join(at, part);
    try {
      st = fs.lstatSync(at);
    } catch {
      return { ok: false, reason: `${at} does not exist` };
    }
    if (st.isSymbolicLink())
      return {
        ok: false,
        reason: `${at} is a symbolic link (to ${fs.readlinkSync(at)}); write the real path, without links`,
      };
  }
  return st.isDirectory() ? { ok: true, st } : { ok: false, reason: `${p} is not a directory` };
}

const realOrUndefined = (p: string): string | undefined => {
  try {
    return fs.realpathSync(p);
  } catch {
    return undefined;
  }
};

/** The facts about one mount; never throws (anything odd is a refusal decide() reports). */
export function checkMount(mount: AgentMount, ctx: MountContext): MountCheck {
  const p = mount.host;
  if (!path.isAbsolute(p) || path.normalize(p) !== p || p.split('/').some((x) => x === '.' || x === '..'))
    return refused(mount, 'write a plain absolute path (no ., .., // or trailing /)');
  if (p.length > 1 && p.endsWith('/')) return refused(mount, 'write the path without a trailing /');
  const w = walk(p);
  if (!w.ok) return refused(mount, w.reason);
  const real = fs.realpathSync(p);
  if (real !== p) return refused(mount, `its real path is ${real}; write that`);
  const bad = real.split('/').find(isSensitive);
  if (bad !== undefined) return refused(mount, `${bad} is a sensitive path and is never mounted`);
  const backing = backingPath(real, ctx.mountinfo ?? fs.readFileSync('/proc/self/mountinfo', 'utf8'));
  const aliased = backing.split('/').find(isSensitive);
  if (aliased !== undefined)
    return refused(
      mount,
      `it is a bind mount of ${backing}; ${aliased} is a sensitive path and is never mounted`,
    );
  const inside = fs.readdirSync(real).find(isSensitive);
  if (inside !== undefined)
    return refused(mount, `it contains ${inside}, a sensitive path that is never mounted`);
  const home = realOrUndefined(ctx.home) ?? path.resolve(ctx.home);
  if (under(real, home) || under(home, real))
    return refused(mount, `corral's home (${home}) is never mounted`);
  const roots = ctx.allow.map(realOrUndefined).filter((r) => r !== undefined);
  const allowedBy = roots.find((r) => under(real, r));
  return {
    mount,
    resource: real,
    facts: { declared: true, ...(allowedBy === undefined ? {} : { allowedBy }) },
    id: { dev: w.st.dev, ino: w.st.ino },
  };
}

/** Checks every mount, and refuses two that overlap: one folder reached at two places is an alias. */
export function checkMounts(mounts: readonly AgentMount[], ctx: MountContext): MountCheck[] {
  const checks = mounts.map((m) => checkMount(m, ctx));
  return checks.map((c, i) => {
    if (c.facts.refused !== undefined) return c;
    const other = checks.find(
      (o, j) =>
        j !== i &&
        o.facts.refused === undefined &&
        (under(c.resource, o.resource) || under(o.resource, c.resource)),
    );
    const dup = mounts.findIndex((m) => m.path === c.mount.path) !== i;
    if (dup) return refused(c.mount, `another mount already uses ${c.mount.path}`);
    return other === undefined
      ? c
      : refused(
          c.mount,
          `it overlaps the mount of ${other.resource}: the same files at two places is an alias`,
        );
  });
}

/**
 * Opens a checked directory without following links and confirms the descriptor is the directory that was checked
 * (same device and inode, same path): a swap between the check and the open is refused. The caller closes it.
 */
export function openChecked(c: MountCheck): number {
  const fd = fs.openSync(
    c.resource,
    fs.constants.O_RDONLY | fs.constants.O_DIRECTORY | fs.constants.O_NOFOLLOW,
  );
  try {
    const st = fs.fstatSync(fd);
    const same = c.id !== undefined && st.dev === c.id.dev && st.ino === c.id.ino;
    if (!same || fs.readlinkSync(`/proc/self/fd/${fd}`) !== c.resource)
      throw new Error(`mount ${c.resource} changed while it was being checked; refused`);
    return fd;
  } catch (err) {
    fs.closeSync(fd);
    throw err;
  }
}
