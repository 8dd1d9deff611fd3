// Names shared by the host (QEMU's command line) and the guest's init: ports, disks, the shared directory.

/** virtio-serial ports, by the name QEMU gives them and the init looks up in /sys/class/virtio-ports. */
export const PORTS = {
  stdin: 'corral.stdin',
  stdout: 'corral.stdout',
  stderr: 'corral.stderr',
  /** guest → host: "exit CODE"; host → guest: "stop" */
  ctl: 'corral.ctl',
  /** the gateway: many connections multiplexed over one port (see mux.ts) */
  gateway: 'corral.gw',
} as const;
export type PortName = keyof typeof PORTS;
export const PORT_ORDER: PortName[] = ['stdin', 'stdout', 'stderr', 'ctl', 'gateway'];

/** virtio-blk serial numbers (/sys/block/vdX/serial) */
export const BASE_DISK_SERIAL = 'corral-base';
export const LAYER_DISK_SERIAL = 'corral-layer';

/** virtiofs tag of the one directory the host shares (workspace, runtime, generated files) */
export const SHARE_TAG = 'corral';
/** inside the guest: init's own files (busybox, scripts), on a tmpfs the agent's layer never holds */
export const GUEST_VM_DIR = '/run/corral-vm';

/** Entries of the shared directory, as the host assembles it and the guest mounts them. */
export const SHARE = {
  workspace: 'workspace',
  runtime: 'runtime',
  etc: 'etc',
  ca: 'ca.crt',
  launch: 'launch',
  extra: (i: number): string => `extra-${i}`,
} as const;

/** Files the host writes into the share's launch directory. */
export const LAUNCH_VM = 'vm.sh';
export const LAUNCH_RUN = 'run.sh';

/** The kernel command-line word that makes the init only report that it started (the KVM probe). */
export const PROBE_ARG = 'corral.probe';
export const PROBE_OK = 'corral-probe-ok';
/** The prefix of the init's own error lines on the console. */
export const INIT_ERROR = 'corral-init:';
