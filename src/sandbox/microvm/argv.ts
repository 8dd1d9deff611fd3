// QEMU's command line for one agent VM, built as data: the microvm machine with no network device, the base
// image read-only, the agent's disk, the shared directory and the virtio-serial ports, nothing else.
import type { HostIds, SandboxLimits } from '../types.ts';
import { MIB } from '../types.ts';
import type { PortName } from './guest-abi.ts';
import { BASE_DISK_SERIAL, LAYER_DISK_SERIAL, PORT_ORDER, PORTS, SHARE_TAG } from './guest-abi.ts';

export const QEMU = 'qemu-system-x86_64';
/**
 * On top of the agent's memory limit (its cgroup inside the guest): the guest kernel, the init and the gateway
 * relay. Only pages the guest touches cost the host memory.
 */
export const VM_OVERHEAD_MIB = 128;
export const MIN_VM_MEMORY_MIB = 256;
/** TCG's translated-code cache: QEMU's default (1 GiB) would let each idle VM keep hundreds of MiB. */
const TCG_TB_MIB = 128;

export type Accel = 'kvm' | 'tcg';

export interface VmPlan {
  name: string;
  accel: Accel;
  memoryMiB: number;
  cpus: number;
  /** paths QEMU opens: /proc/self/fd/N of descriptors it inherits, so it needs no access to the cache dirs */
  kernel: string;
  initrd: string;
  /** kernel command line words */
  append: string[];
  /** descriptors QEMU inherits: the base disk (read-only); the agent's disk (read-write, and read-only) */
  baseDiskFd: number;
  layerDiskFds: number[];
  /** inherited connected sockets, one per virtio-serial port */
  portFds: Record<PortName, number>;
  /** virtiofsd's vhost-user socket */
  shareSocket: string;
}

/** VM size from the agent's limits: its memory plus the guest's own, and whole vCPUs. */
export function vmSize(limits: Pick<SandboxLimits, 'memoryBytes' | 'cpus'>): {
  memoryMiB: number;
  cpus: number;
} {
  return {
    memoryMiB: Math.max(MIN_VM_MEMORY_MIB, Math.ceil(limits.memoryBytes / MIB) + VM_OVERHEAD_MIB),
    cpus: Math.max(1, Math.ceil(limits.cpus)),
  };
}

/**
 * The guest kernel's command line. Quiet and with the slow boot-time self-tests off (crypto self-tests, 32 legacy
 * serial ports probed); under TCG the TSC frequency is given, since the guest cannot calibrate it (it hangs).
 */
export function kernelCmdline(accel: Accel, tscKhz: number | undefined, extra: string[] = []): string[] {
  const words = ['console=ttyS0', 'quiet', 'panic=-1', 'cryptomgr.notests', '8250.nr_uarts=1'];
  if (accel === 'tcg' && tscKhz !== undefined) words.push(`tsc_early_khz=${tscKhz}`);
  return [...words, ...extra];
}

export function qemuArgv(plan: VmPlan): string[] {
  const mem = `${plan.memoryMiB}M`;
  const args = [
    QEMU,
    '-name',
    plan.name,
    '-nodefaults',
    '-no-user-config',
    '-nographic',
    '-no-reboot',
    // QEMU's own seccomp filter: no exec, no privilege changes, no obsolete syscalls
    '-sandbox',
    'on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny',
    '-machine',
    'microvm,memory-backend=mem',
    '-accel',
    plan.accel === 'tcg' ? `tcg,tb-size=${TCG_TB_MIB}` : 'kvm',
    '-cpu',
    plan.accel === 'kvm' ? 'host' : 'max',
    '-m',
    mem,
    '-smp',
    String(plan.cpus),
    // shared memory: virtiofsd (a separate process) reads and writes the guest's buffers
    '-object',
    `memory-backend-memfd,id=mem,size=${mem},share=on`,
    '-nic',
    'none',
    '-kernel',
    plan.kernel,
    '-initrd',
    plan.initrd,
    '-append',
    plan.append.join(' '),
    '-serial',
    'stdio',
    // modern virtio-mmio: vhost-user (virtiofsd) refuses legacy devices
    '-global',
    'virtio-mmio.force-legacy=false',
    '-add-fd',
    `fd=${plan.baseDiskFd},set=1`,
    '-drive',
    'if=none,id=base,file=/dev/fdset/1,format=raw,readonly=on',
    '-device',
    `virtio-blk-device,drive=base,serial=${BASE_DISK_SERIAL}`,
    ...plan.layerDiskFds.flatMap((fd) => ['-add-fd', `fd=${fd},set=2`]),
    '-drive',
    'if=none,id=layer,file=/dev/fdset/2,format=raw,discard=unmap',
    '-device',
    `virtio-blk-device,drive=layer,serial=${LAYER_DISK_SERIAL}`,
    '-chardev',
    `socket,id=share,path=${plan.shareSocket}`,
    '-device',
    `vhost-user-fs-device,chardev=share,tag=${SHARE_TAG}`,
    '-device',
    'virtio-serial-device,id=ports',
  ];
  for (const p of PORT_ORDER) {
    args.push('-chardev', `socket,id=${p},fd=${plan.portFds[p]}`);
    args.push('-device', `virtserialport,bus=ports.0,chardev=${p},name=${PORTS[p]}`);
  }
  return args;
}

/**
 * Runs a command as the agent's unprivileged host uid (when corral is root): no new privileges, killed when
 * corral dies. `groups` adds supplementary groups (the kvm group for /dev/kvm). The capability bounding set is
 * emptied too unless the command must make a user namespace and then exec in it (virtiofsd's wrapper): there an
 * empty bounding set would leave it without the capabilities it needs inside its own namespace, while as an
 * unprivileged uid with no_new_privs it has none on the host either way.
 */
export function dropPrivileges(
  ids: HostIds | undefined,
  opts: { groups?: number[]; userns?: boolean } = {},
): string[] {
  const base = ['setpriv', '--pdeathsig', 'KILL'];
  if (ids === undefined) return [...base, '--no-new-privs', '--'];
  const groups = opts.groups ?? [];
  return [
    ...base,
    '--reuid',
    String(ids.uid),
    '--regid',
    String(ids.gid),
    ...(groups.length > 0 ? ['--groups', groups.join(',')] : ['--clear-groups']),
    ...(opts.userns === true ? [] : ['--bounding-set', '-all', '--inh-caps', '-all']),
    '--no-new-privs',
    '--',
  ];
}
