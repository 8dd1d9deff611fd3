// The one directory tree the host shares with the guest over virtiofs: the workspace read-write, the runtime,
// generated /etc files, the CA bundle, extra paths and the launch files read-only. virtiofsd runs as the agent's
// uid, root of its own user namespace, so what the guest's root writes belongs to that uid on the host; the tree
// is assembled with bind mounts inside its private mount namespace and nothing of it appears on the host.
import { SHARE } from './guest-abi.ts';
import type { SandboxSpec } from '../types.ts';
import { dropPrivileges } from './argv.ts';

/** Debian 12's QEMU ships the C virtiofsd here (later Debian releases package the Rust one as `virtiofsd`). */
export const VIRTIOFSD_PATHS = ['/usr/lib/qemu/virtiofsd', '/usr/libexec/virtiofsd', '/usr/bin/virtiofsd'];

export interface ShareEntry {
  access: 'rw' | 'ro';
  /** host path (a directory or a file) */
  host: string;
  /** its name at the top of the shared tree */
  name: string;
}

export function shareEntries(
  spec: Pick<SandboxSpec, 'workspaceDir' | 'runtimeDir' | 'etcDir' | 'caBundle' | 'extraReadOnly'>,
  launchDir: string,
): ShareEntry[] {
  const entries: ShareEntry[] = [
    { access: 'rw', host: spec.workspaceDir, name: SHARE.workspace },
    { access: 'ro', host: spec.runtimeDir, name: SHARE.runtime },
    { access: 'ro', host: spec.etcDir, name: SHARE.etc },
    { access: 'ro', host: launchDir, name: SHARE.launch },
  ];
  if (spec.caBundle !== undefined) entries.push({ access: 'ro', host: spec.caBundle, name: SHARE.ca });
  spec.extraReadOnly.forEach((p, i) => entries.push({ access: 'ro', host: p, name: SHARE.extra(i) }));
  return entries;
}

/**
 * Builds the tree on a tmpfs at STAGE inside a private mount namespace, gives virtiofsd a lock directory the
 * agent's uid may write (it keeps a lock file in /run/virtiofsd), then runs the rest of its arguments.
 * Arguments: STAGE LOCKDIR OWNER (rw|ro HOSTPATH NAME)... -- COMMAND...
 */
const ASSEMBLE = `set -e
stage=$1 lock=$2 owner=$3
shift 3
mount -t tmpfs -o mode=0755 corral-share "$stage"
while [ "$1" != -- ]; do
  if [ -d "$2" ]; then mkdir "$stage/$3"; else : > "$stage/$3"; fi
  mount --bind "$2" "$stage/$3"
  [ "$1" = rw ] || mount -o remount,bind,ro "$stage/$3"
  shift 3
done
shift
if [ -d /run/virtiofsd ]; then
  mount --bind "$lock" /run/virtiofsd
else
  mount -t tmpfs -o mode=0755 corral-run /run && mkdir /run/virtiofsd && chown "$owner" /run/virtiofsd
fi
exec "$@"`;

/** Where the host keeps its own virtiofsd lock directory; made once (as root) so each VM can bind its own over it. */
export const VIRTIOFSD_LOCK_DIR = '/run/virtiofsd';

/**
 * As root the tree is assembled by root in a private mount namespace (the agent's uid could not even reach its
 * own data directory, which is root's), and only then does virtiofsd drop to the agent's uid, root of a user
 * namespace of its own. As an ordinary user all of it runs in one user namespace of the caller.
 */
export function virtiofsdArgv(opts: {
  virtiofsd: string;
  entries: ShareEntry[];
  socketPath: string;
  /** an empty directory the tree is assembled on, and one the agent's uid may write */
  stageDir: string;
  lockDir: string;
  ids: SandboxSpec['hostIds'];
}): string[] {
  const serve = [
    opts.virtiofsd,
    `--socket-path=${opts.socketPath}`,
    '-o',
    `source=${opts.stageDir}`,
    '-o',
    'cache=auto',
    '-o',
    'sandbox=namespace',
    '-o',
    'log_level=warn',
  ];
  const assemble = (owner: string): string[] => [
    '/bin/sh',
    '-c',
    ASSEMBLE,
    'corral-share',
    opts.stageDir,
    opts.lockDir,
    owner,
    ...opts.entries.flatMap((e) => [e.access, e.host, e.name]),
    '--',
  ];
  if (opts.ids === undefined) {
    return [
      ...dropPrivileges(undefined),
      ...['unshare', '--user', '--map-root-user', '--mount', '--'],
      ...assemble('0:0'),
      ...serve,
    ];
  }
  return [
    ...['setpriv', '--pdeathsig', 'KILL', '--', 'unshare', '--mount', '--'],
    ...assemble(`${opts.ids.uid}:${opts.ids.gid}`),
    ...dropPrivileges(opts.ids, { userns: true }),
    ...['unshare', '--user', '--map-root-user', '--'],
    ...serve,
  ];
}
