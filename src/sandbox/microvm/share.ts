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

/** Builds the tree on a tmpfs at /run of the private mount namespace, then becomes virtiofsd serving it. */
const ASSEMBLE = `set -e
mount -t tmpfs -o mode=0755 corral-share /run
mkdir /run/share
while [ "$1" != -- ]; do
  if [ -d "$2" ]; then mkdir "/run/share/$3"; else : > "/run/share/$3"; fi
  mount --bind "$2" "/run/share/$3"
  [ "$1" = rw ] || mount -o remount,bind,ro "/run/share/$3"
  shift 3
done
shift
exec "$@"`;

export function virtiofsdArgv(opts: {
  virtiofsd: string;
  entries: ShareEntry[];
  socketPath: string;
  ids: SandboxSpec['hostIds'];
}): string[] {
  return [
    ...dropPrivileges(opts.ids, { userns: true }),
    'unshare',
    '--user',
    '--map-root-user',
    '--mount',
    '--',
    '/bin/sh',
    '-c',
    ASSEMBLE,
    'corral-share',
    ...opts.entries.flatMap((e) => [e.access, e.host, e.name]),
    '--',
    opts.virtiofsd,
    `--socket-path=${opts.socketPath}`,
    '-o',
    'source=/run/share',
    '-o',
    'cache=auto',
    '-o',
    'sandbox=namespace',
    '-o',
    'log_level=warn',
  ];
}
