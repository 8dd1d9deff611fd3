// The bwrap command line for a sandbox whose / is the agent's own layer over the base image (spec.root).
//
// Two bubblewraps. The outer one builds a root of corral's own: the host's /usr for the tools, and every host
// directory the sandbox gets, each at a fixed path under /.corral. The inner one runs with nothing but the
// agent's identity (its uid, root of a fresh user namespace) and moves the merged layer to / with the rest
// mounted on top. The inner one must be the one: the merged tree is the agent's, so any path in it may be a link
// the agent planted, and bwrap creates missing mount points by following links. Done by a bwrap running as host
// root, a link such as /run -> /oldroot/etc would make it create files on the host; done with the agent's own
// credentials, inside a root that holds nothing of the host, it reaches nothing the agent could not already.
import path from 'node:path';
import {
  SANDBOX_CA_BUNDLE,
  SANDBOX_GATEWAY_DIR,
  SANDBOX_RUNTIME_DIR,
  SANDBOX_WORKSPACE,
} from '../../protocol/sandbox-env.ts';
import { imageInterpreter } from '../layer/interpreter.ts';
import type { SandboxSpec } from '../types.ts';
import type { ArgvOptions } from './argv.ts';
import { checkExtraBind, limitArgs, mountFdArgs, SCRATCH_TMPFS_BYTES, sysMounts } from './argv.ts';

const STAGE = '/.corral';
const RUN_TMPFS_BYTES = 8 * 1024 * 1024;
/** Generated per sandbox and bound read-only over the layer's copy; the rest of /etc is the agent's. */
export const ROOT_ETC_GENERATED = ['hosts'];

const HOST_TOOLS_RO = ['/usr', '/etc/ld.so.cache', '/etc/ld.so.conf', '/etc/ld.so.conf.d'];
const MERGED_USR_LINKS: [string, string][] = [
  ['usr/bin', '/bin'],
  ['usr/sbin', '/sbin'],
  ['usr/lib', '/lib'],
  ['usr/lib64', '/lib64'],
];

interface Staged {
  /** host path, exposed in the outer root at `stage` */
  host: string;
  stage: string;
  /** where the inner bwrap mounts it in the agent's root */
  target: string;
  kind: '--bind' | '--ro-bind';
}

function staged(spec: SandboxSpec): Staged[] {
  const s: Staged[] = [
    { host: spec.workspaceDir, stage: `${STAGE}/workspace`, target: SANDBOX_WORKSPACE, kind: '--bind' },
    { host: spec.runtimeDir, stage: `${STAGE}/runtime`, target: SANDBOX_RUNTIME_DIR, kind: '--ro-bind' },
    { host: spec.gatewayDir, stage: `${STAGE}/gateway`, target: SANDBOX_GATEWAY_DIR, kind: '--ro-bind' },
  ];
  for (const f of ROOT_ETC_GENERATED) {
    s.push({
      host: path.join(spec.etcDir, f),
      stage: `${STAGE}/etc-${f}`,
      target: `/etc/${f}`,
      kind: '--ro-bind',
    });
  }
  if (spec.caBundle !== undefined) {
    s.push({ host: spec.caBundle, stage: `${STAGE}/ca.crt`, target: SANDBOX_CA_BUNDLE, kind: '--ro-bind' });
  }
  // the runtime's interpreter straight from the base image (src/sandbox/layer/interpreter.ts)
  const interpreter = imageInterpreter(spec);
  if (interpreter !== undefined) {
    s.push({
      host: interpreter.source,
      stage: `${STAGE}/interpreter`,
      target: interpreter.target,
      kind: '--ro-bind',
    });
  }
  spec.extraReadOnly.forEach((p, i) => {
    checkExtraBind(p);
    s.push({ host: p, stage: `${STAGE}/extra-${i}`, target: p, kind: '--ro-bind' });
  });
  return s;
}

function outerArgs(spec: SandboxSpec, rootPath: string, opts: ArgvOptions): string[] {
  const args = [
    '--unshare-pid',
    '--unshare-net',
    '--unshare-ipc',
    '--unshare-uts',
    '--unshare-cgroup-try',
    '--die-with-parent',
    '--new-session',
    '--hostname',
    'corral',
  ];
  // As an ordinary user the outer bwrap needs a user namespace to mount at all; nested ones stay allowed here
  // because the inner bwrap makes one, and that inner bwrap disables them for the agent.
  if (spec.hostIds === undefined) args.push('--unshare-user', '--uid', '0', '--gid', '0');
  // bwrap running as root would create /etc 0700: the agent's uid (prlimit, the inner bwrap) could not read the
  // loader cache in it and its dynamic loader would search the library directories path by path
  args.push('--perms', '0755', '--dir', '/etc');
  for (const p of HOST_TOOLS_RO) if (opts.exists(p)) args.push('--ro-bind', p, p);
  for (const [target, link] of MERGED_USR_LINKS) args.push('--symlink', target, link);
  // /tmp is where the inner bwrap builds its own root before it pivots into the agent's
  args.push('--proc', '/proc', '--dev', '/dev', '--tmpfs', '/tmp', '--perms', '0755', '--dir', STAGE);
  args.push('--bind', rootPath, `${STAGE}/root`);
  for (const s of staged(spec)) args.push(s.kind, s.host, s.stage);
  args.push(...mountFdArgs(spec, (i) => `${STAGE}/mount-${i}`));
  (opts.cgroupViews ?? []).forEach((v, i) => args.push('--ro-bind', v.dir, `${STAGE}/cgroup-${i}`));
  return args;
}

function innerArgs(spec: SandboxSpec, opts: ArgvOptions): string[] {
  const args = [
    'bwrap',
    '--unshare-user',
    '--uid',
    '0',
    '--gid',
    '0',
    '--disable-userns',
    '--die-with-parent',
    '--bind',
    `${STAGE}/root`,
    '/',
    // the outer bwrap's /proc of this sandbox's pid namespace (a fresh proc cannot be mounted from here)
    '--bind',
    '/proc',
    '/proc',
    // sysctls read-only: the agent is root of its namespaces and could otherwise tune their kernel settings
    '--ro-bind',
    '/proc/sys',
    '/proc/sys',
    '--dev',
    '/dev',
    '--perms',
    '1777',
    '--size',
    String(SCRATCH_TMPFS_BYTES),
    '--tmpfs',
    '/tmp',
    '--perms',
    '0755',
    '--size',
    String(RUN_TMPFS_BYTES),
    '--tmpfs',
    '/run',
    '--perms',
    '1777',
    '--dir',
    '/run/lock',
  ];
  for (const s of staged(spec)) args.push(s.kind, s.stage, s.target);
  // the host folders, staged by descriptor in the outer root; read-only stays read-only on the way in
  (spec.mounts ?? []).forEach((m, i) =>
    args.push(m.readOnly ? '--ro-bind' : '--bind', `${STAGE}/mount-${i}`, m.target),
  );
  const views = (opts.cgroupViews ?? []).map((v, i) => ({
    inside: v.inside,
    source: `${STAGE}/cgroup-${i}`,
  }));
  args.push(...sysMounts(views));
  args.push('--chdir', SANDBOX_WORKSPACE, '--cap-drop', 'ALL', '--');
  return args;
}

/**
 * As root, setpriv drops the outer bwrap's child to the agent's uid before the inner bwrap; as an ordinary
 * user both run as the caller. Limits are applied by the host's prlimit before the inner bwrap, not by a
 * prlimit from the agent's layer, which the agent may have replaced.
 */
export function bwrapRootArgv(spec: SandboxSpec, rootPath: string, opts: ArgvOptions): string[] {
  const drop =
    spec.hostIds === undefined
      ? ['--cap-drop', 'ALL', '--']
      : [
          '--',
          'setpriv',
          '--reuid',
          String(spec.hostIds.uid),
          '--regid',
          String(spec.hostIds.gid),
          '--clear-groups',
          '--bounding-set',
          '-all',
          '--inh-caps',
          '-all',
          '--no-new-privs',
          '--',
        ];
  return [
    'bwrap',
    ...outerArgs(spec, rootPath, opts),
    ...drop,
    ...limitArgs(spec),
    ...innerArgs(spec, opts),
    ...spec.command,
  ];
}
