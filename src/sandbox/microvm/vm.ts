// One agent VM: virtiofsd for the shared tree, then QEMU with the disks and ports, both as the agent's uid.
// The sandbox's stdio are the stdio ports; the exit code comes over the control port before the guest powers off.
import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { SANDBOX_GATEWAY_SOCKET } from '../../protocol/sandbox-env.ts';
import { CorralError } from '../../util/errors.ts';
import type { Logger } from '../../util/log.ts';
import { etcFiles } from '../bwrap/argv.ts';
import { ROOT_ETC_GENERATED } from '../bwrap/root-argv.ts';
import { ensureHostDir } from '../layer/dirs.ts';
import { takeIdleLayer } from '../layer/mount.ts';
import { claimLayer, releaseLayer } from '../layer/owner.ts';
import { diskFull, diskHit } from '../disk-usage.ts';
import { limitHit } from '../limit-hit.ts';
import type { AppliedLimits, LimitHit, Sandbox, SandboxExit, SandboxRoot, SandboxSpec } from '../types.ts';
import { dropPrivileges, kernelCmdline, qemuArgv, vmSize } from './argv.ts';
import { ensureBaseDisk, openLayerDisk } from './disks.ts';
import { createVmControl } from './control.ts';
import { linkGateway } from './gateway-link.ts';
import type { PortName } from './guest-abi.ts';
import { INIT_ERROR, LAUNCH_RUN, LAUNCH_VM, PORT_ORDER } from './guest-abi.ts';
import type { GuestBoot } from './guest.ts';
import { runScript, vmScript } from './launch.ts';
import { shareEntries, VIRTIOFSD_LOCK_DIR, virtiofsdArgv } from './share.ts';
import { proc, vmsDir, writeState } from './state.ts';

const VIRTIOFSD_START_TIMEOUT_MS = 15_000;
/** After "stop": the guest ends its processes, syncs its disk and powers off; then QEMU is killed. */
const STOP_TIMEOUT_MS: Record<GuestBoot['accel'], number> = { kvm: 5_000, tcg: 15_000 };
const HELPER_EXIT_TIMEOUT_MS = 3_000;
const DIAG_BYTES = 8192;
const SAFE_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
/** QEMU's descriptors: the five ports, then the kernel, the initramfs and the disks (the agent's twice: QEMU
 * opens it read-only before read-write, and takes from the set a descriptor of the mode it asks for). */
const FIRST_PORT_FD = 3;
const FILE_FDS = { kernel: 8, initrd: 9, base: 10, layer: 11, layerRo: 12 } as const;

export interface VmDeps {
  log: Logger;
  runDir: string;
  cacheDir: string;
  boot: GuestBoot;
  isRoot: boolean;
  virtiofsd: string;
  tscKhz: number | undefined;
}

const env = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' };

function tail(buf: string, more: Buffer): string {
  return (buf + more.toString('utf8')).slice(-DIAG_BYTES);
}

function exitOf(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

async function endHelper(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const gone = exitOf(child);
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), HELPER_EXIT_TIMEOUT_MS);
  await gone;
  clearTimeout(timer);
}

async function awaitSocket(socket: string, helper: ChildProcess, stderr: () => string): Promise<void> {
  const until = Date.now() + VIRTIOFSD_START_TIMEOUT_MS;
  while (!fs.existsSync(socket)) {
    if (helper.exitCode !== null || helper.signalCode !== null || Date.now() > until) {
      throw new CorralError(
        'microvm_share',
        `virtiofsd did not start: ${stderr().trim() || 'no socket in time'}`,
        'run: corral doctor',
      );
    }
    await new Promise((r) => setTimeout(r, 10));
  }
}

function writeLaunch(dir: string, spec: SandboxSpec, gateway: boolean): void {
  ensureHostDir(dir, 0o755);
  const vm = vmScript(spec, { gateway, etcNames: ROOT_ETC_GENERATED });
  fs.writeFileSync(path.join(dir, LAUNCH_VM), vm, { mode: 0o644 });
  fs.writeFileSync(path.join(dir, LAUNCH_RUN), runScript(spec), { mode: 0o644 });
  fs.mkdirSync(spec.etcDir, { recursive: true, mode: 0o755 });
  const generated = etcFiles();
  for (const f of ROOT_ETC_GENERATED) {
    fs.writeFileSync(path.join(spec.etcDir, f), generated[f] ?? '', { mode: 0o644 });
  }
}

/** exit status of a process killed by SIGKILL (the OOM killer), as the guest's shell reports it */
const KILLED = 137;
const memoryHit = (spec: SandboxSpec): LimitHit => limitHit('memoryBytes', spec.limits);

/** The agent's memory and processes: a cgroup in the guest (inside a VM sized to hold it); CPUs: the vCPUs. */
export function microvmApplied(diskQuota: boolean): AppliedLimits {
  return {
    memoryBytes: 'cgroup-v2',
    cpus: 'runtime',
    maxProcesses: 'cgroup-v2',
    maxOpenFiles: 'rlimit',
    maxFileBytes: 'rlimit',
    diskBytes: diskQuota ? 'quota' : 'rlimit',
  };
}

function checkSpec(spec: SandboxSpec, isRoot: boolean): SandboxRoot {
  if (isRoot && spec.hostIds === undefined) {
    // Fail closed: QEMU and virtiofsd would run as host root.
    throw new CorralError(
      'sandbox_root_without_uid',
      'refusing to start a VM as host root without an agent uid',
    );
  }
  if (spec.root === undefined) {
    throw new CorralError(
      'microvm_needs_image',
      'the microvm backend boots the base image; this sandbox has none',
      'run it on the base image (corral image build)',
    );
  }
  if (!SAFE_ID.test(spec.sandboxId)) throw new CorralError('sandbox_id', `bad sandbox id ${spec.sandboxId}`);
  return spec.root;
}

export async function startVm(spec: SandboxSpec, deps: VmDeps): Promise<Sandbox> {
  const root = checkSpec(spec, deps.isRoot);
  ensureHostDir(deps.runDir, 0o711);
  ensureHostDir(vmsDir(deps.runDir), 0o711);
  const vmDir = path.join(vmsDir(deps.runDir), spec.sandboxId);
  ensureHostDir(vmDir, 0o711);
  const owner = proc(process.pid);
  if (owner === undefined) throw new Error('cannot read this process start time');
  writeState(vmDir, { owner });
  const undo: (() => Promise<void> | void)[] = [() => fs.rmSync(vmDir, { recursive: true, force: true })];
  const cleanup = async (): Promise<void> => {
    for (const u of undo.reverse()) {
      try {
        await u();
      } catch (err) {
        deps.log.warn('microvm cleanup failed', { sandbox: spec.sandboxId, err: String(err) });
      }
    }
    undo.length = 0;
  };
  try {
    ensureHostDir(root.layerDir, 0o700);
    // one VM per writable disk: a second one would corrupt it (a mount of it kept idle gives way)
    await takeIdleLayer(root.layerDir);
    claimLayer(root.layerDir, vmDir);
    undo.push(() => releaseLayer(root.layerDir, vmDir));
    return await boot(spec, root, vmDir, deps, undo, cleanup);
  } catch (err) {
    await cleanup();
    throw err;
  }
}

async function boot(
  spec: SandboxSpec,
  root: SandboxRoot,
  vmDir: string,
  deps: VmDeps,
  undo: (() => Promise<void> | void)[],
  cleanup: () => Promise<void>,
): Promise<Sandbox> {
  const baseDisk = ensureBaseDisk(root, path.join(deps.cacheDir, 'disks'));
  const gatewaySocket = path.join(spec.gatewayDir, path.basename(SANDBOX_GATEWAY_SOCKET));
  const gateway = fs.existsSync(gatewaySocket);
  const launchDir = path.join(vmDir, 'launch');
  writeLaunch(launchDir, spec, gateway);

  // virtiofsd (as the agent) makes its socket here, and QEMU (as the agent) connects to it
  const sockDir = path.join(vmDir, 'sock');
  ensureHostDir(sockDir, 0o700);
  if (spec.hostIds !== undefined) fs.chownSync(sockDir, spec.hostIds.uid, spec.hostIds.gid);
  const shareSocket = path.join(sockDir, 'share.sock');
  const stageDir = path.join(vmDir, 'share');
  ensureHostDir(stageDir, 0o755);
  const lockDir = path.join(vmDir, 'lock');
  ensureHostDir(lockDir, 0o700);
  if (spec.hostIds !== undefined) {
    fs.chownSync(lockDir, spec.hostIds.uid, spec.hostIds.gid);
    fs.mkdirSync(VIRTIOFSD_LOCK_DIR, { recursive: true, mode: 0o755 });
  }
  const [fsCmd = '', ...fsArgs] = virtiofsdArgv({
    virtiofsd: deps.virtiofsd,
    entries: shareEntries(spec, launchDir),
    socketPath: shareSocket,
    stageDir,
    lockDir,
    ids: spec.hostIds,
  });
  const share = spawn(fsCmd, fsArgs, { stdio: ['ignore', 'ignore', 'pipe'], env });
  let shareErr = '';
  share.stderr?.on('data', (c: Buffer) => (shareErr = tail(shareErr, c)));
  share.once('error', () => undefined);
  undo.push(() => endHelper(share));
  await awaitSocket(shareSocket, share, () => shareErr);

  const fds = {
    kernel: fs.openSync(deps.boot.kernel.vmlinuz, fs.constants.O_RDONLY),
    initrd: fs.openSync(deps.boot.initrd, fs.constants.O_RDONLY),
    base: fs.openSync(baseDisk, fs.constants.O_RDONLY),
    layer: openLayerDisk(root.layerDir, spec.limits.diskBytes),
    layerRo: -1,
  };
  fds.layerRo = fs.openSync(`/proc/self/fd/${fds.layer}`, fs.constants.O_RDONLY);
  const { memoryMiB, cpus } = vmSize(spec.limits);
  const portFd = (p: PortName): number => FIRST_PORT_FD + PORT_ORDER.indexOf(p);
  const argv = qemuArgv({
    name: `corral-${spec.sandboxId}`,
    accel: deps.boot.accel,
    memoryMiB,
    cpus,
    kernel: `/proc/self/fd/${FILE_FDS.kernel}`,
    initrd: `/proc/self/fd/${FILE_FDS.initrd}`,
    append: kernelCmdline(deps.boot.accel, deps.tscKhz),
    baseDiskFd: FILE_FDS.base,
    layerDiskFds: [FILE_FDS.layer, FILE_FDS.layerRo],
    portFds: {
      stdin: portFd('stdin'),
      stdout: portFd('stdout'),
      stderr: portFd('stderr'),
      ctl: portFd('ctl'),
      gateway: portFd('gateway'),
    },
    shareSocket,
  });
  const [cmd = '', ...args] = [...dropPrivileges(spec.hostIds, { groups: deps.boot.groups }), ...argv];
  let qemu: ChildProcess;
  try {
    qemu = spawn(cmd, args, {
      stdio: [
        'ignore',
        'pipe',
        'pipe',
        ...PORT_ORDER.map(() => 'pipe' as const),
        fds.kernel,
        fds.initrd,
        fds.base,
        fds.layer,
        fds.layerRo,
      ],
      env,
    });
  } finally {
    for (const fd of Object.values(fds)) fs.closeSync(fd);
  }
  undo.push(() => endHelper(qemu));
  writeState(vmDir, {
    owner: proc(process.pid) ?? { pid: process.pid, start: '?' },
    qemu: proc(qemu.pid),
    virtiofsd: proc(share.pid),
  });
  deps.log.debug('microvm started', { sandbox: spec.sandboxId, pid: qemu.pid, accel: deps.boot.accel });
  return wire(spec, deps, qemu, share, { gateway, gatewaySocket }, cleanup);
}

function port(child: ChildProcess, name: PortName): net.Socket {
  const s = child.stdio[FIRST_PORT_FD + PORT_ORDER.indexOf(name)];
  if (!(s instanceof net.Socket)) throw new Error(`QEMU's ${name} port is not a socket`);
  // QEMU closing a port (stdin at EOF, all of them when it exits) is how streams end, not a failure of the host
  if (s.listenerCount('error') === 0) s.on('error', () => undefined);
  return s;
}

function wire(
  spec: SandboxSpec,
  deps: VmDeps,
  qemu: ChildProcess,
  share: ChildProcess,
  gw: { gateway: boolean; gatewaySocket: string },
  cleanup: () => Promise<void>,
): Sandbox {
  const ctl = port(qemu, 'ctl');
  const stderr = new PassThrough();
  const guestErr = port(qemu, 'stderr');
  guestErr.on('data', (c: Buffer) => stderr.write(c));
  let console = '';
  qemu.stdout?.on('data', (c: Buffer) => (console = tail(console, c)));
  qemu.stderr?.on('data', (c: Buffer) => (console = tail(console, c)));
  const link = gw.gateway ? linkGateway(port(qemu, 'gateway'), gw.gatewaySocket) : undefined;
  if (!gw.gateway) port(qemu, 'gateway').resume();

  const control = createVmControl(ctl, spec.limits);
  // a helper that dies takes the VM with it: a guest without its shared directory would hang
  share.once('exit', () => {
    if (qemu.exitCode === null && qemu.signalCode === null) qemu.kill('SIGKILL');
  });

  const closed = (s: net.Socket): Promise<void> =>
    s.closed ? Promise.resolve() : new Promise((r) => s.once('close', () => r()));
  const exited = new Promise<SandboxExit>((resolve) => {
    let finished = false;
    const finish = (qcode: number | null, signal: NodeJS.Signals | null): void => {
      if (finished) return;
      finished = true;
      void (async () => {
        await Promise.race([
          Promise.all([closed(ctl), closed(guestErr)]),
          new Promise((r) => setTimeout(r, HELPER_EXIT_TIMEOUT_MS)),
        ]);
        link?.close();
        const code = control.exitCode();
        if (code === undefined) {
          const why =
            console.split('\n').find((l) => l.startsWith(INIT_ERROR)) ?? console.trim().split('\n').pop();
          stderr.write(
            `corral: the VM ended without an exit code (QEMU ${String(qcode ?? signal)}): ${why ?? ''}\n`,
          );
          deps.log.warn('microvm ended without an exit code', { sandbox: spec.sandboxId, console });
        }
        deps.log.debug('microvm exited', { sandbox: spec.sandboxId, code, console });
        stderr.end();
        await cleanup();
        // the command itself was killed while its cgroup ran out of memory: the sandbox ended on that limit
        const limitHit = code === KILLED && control.everOutOfMemory() ? { limitHit: memoryHit(spec) } : {};
        resolve({ code: code ?? null, signal: code === undefined ? signal : null, ...limitHit });
      })();
    };
    qemu.once('error', (err) => {
      console = tail(console, Buffer.from(String(err)));
      finish(null, null);
    });
    qemu.once('exit', finish);
  });

  let diskWasFull = false;
  const limitEvents = async (): Promise<LimitHit[]> => {
    const hits = await control.limitEvents();
    // the workspace's volume is the host's: judged there, as on every backend
    const full = spec.diskQuota === true && diskFull(spec.workspaceDir);
    if (full && !diskWasFull) hits.push(diskHit(spec.limits));
    diskWasFull = full;
    return hits;
  };

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      if (qemu.exitCode === null && qemu.signalCode === null) {
        control.stop();
        const timer = setTimeout(() => qemu.kill('SIGKILL'), STOP_TIMEOUT_MS[deps.boot.accel]);
        await exited;
        clearTimeout(timer);
      }
      await exited;
    })();
    return stopping;
  };
  return {
    id: spec.sandboxId,
    stdin: port(qemu, 'stdin'),
    stdout: port(qemu, 'stdout'),
    stderr,
    exited,
    ...(qemu.pid === undefined ? {} : { pid: qemu.pid }),
    appliedLimits: microvmApplied(spec.diskQuota === true),
    limitEvents,
    stop,
  };
}
