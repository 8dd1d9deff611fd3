// The microvm backend: each sandbox is its own virtual machine (QEMU's microvm machine) with its own kernel,
// the base image as a read-only disk and the agent's writable disk over it, and no network device at all.
import path from 'node:path';
import { CorralError } from '../../util/errors.ts';
import type { Logger } from '../../util/log.ts';
import { dropLayer } from '../layer/reset.ts';
import type { Availability, SandboxBackend } from '../types.ts';
import type { AccelMode } from './accel.ts';
import { hostTscKhz } from './accel.ts';
import { createGuestSource, defaultKernelDir } from './guest.ts';
import type { Hypervisor } from './probe.ts';
import { findVirtiofsd, probeMicrovm } from './probe.ts';
import { reapVms } from './state.ts';
import { microvmApplied, startVm } from './vm.ts';

/** On top of a container's start: a KVM guest boots in well under a second, a TCG one on a busy host in tens. */
const BOOT_ALLOWANCE_MS = { kvm: 5_000, tcg: 90_000 } as const;

export interface MicrovmOptions {
  log: Logger;
  /** corral's run directory: each VM's state, sockets and launch files, found by reap after a crash */
  runDir: string;
  /** the backend's cache: kernel, initramfs, base image disks (for images outside the image cache), KVM verdict */
  cacheDir: string;
  /** microvm.kernel: a vmlinuz or an unpacked kernel package; default Debian's cloud kernel, fetched once */
  kernel?: string;
  accel?: AccelMode;
  hypervisor?: Hypervisor;
  busybox?: string;
  isRoot?: boolean;
}

export function createMicrovmBackend(opts: MicrovmOptions): SandboxBackend {
  const isRoot = opts.isRoot ?? process.getuid?.() === 0;
  const hypervisor = opts.hypervisor ?? 'qemu';
  const kernelSource = opts.kernel ?? defaultKernelDir(opts.cacheDir);
  const guest = createGuestSource({
    cacheDir: opts.cacheDir,
    ...(opts.kernel !== undefined && { kernel: opts.kernel }),
    ...(opts.busybox !== undefined && { busybox: opts.busybox }),
    accel: opts.accel ?? 'auto',
    isRoot,
    log: opts.log,
  });
  const tscKhz = hostTscKhz();
  const probe = (): Availability =>
    probeMicrovm({
      hypervisor,
      kernel: kernelSource,
      kernelFetchable: opts.kernel === undefined,
      ...(opts.busybox !== undefined && { busybox: opts.busybox }),
    });
  let usable: Availability | undefined;
  let accel: 'kvm' | 'tcg' | undefined;
  let reaped: Promise<unknown> | undefined;
  return {
    name: 'microvm',
    ownKernel: true,
    // until the first boot tells, assume emulation
    bootAllowanceMs: () => BOOT_ALLOWANCE_MS[accel ?? 'tcg'],
    probe: () => Promise.resolve(probe()),
    async start(spec) {
      usable ??= probe();
      if (!usable.ok) {
        const why = usable;
        usable = undefined;
        throw new CorralError('backend_unavailable', `sandbox backend microvm: ${why.reason}`, why.fix);
      }
      // what a killed corral left behind goes first, so its VMs do not hold this agent's disk
      reaped ??= reapVms(opts.runDir).catch(() => undefined);
      await reaped;
      const boot = await guest();
      accel = boot.accel;
      return startVm(spec, {
        log: opts.log,
        runDir: opts.runDir,
        cacheDir: opts.cacheDir,
        boot,
        isRoot,
        virtiofsd: findVirtiofsd() ?? '',
        tscKhz,
      });
    },
    reap: (runDir) => reapVms(runDir),
    resetLayer: (_agent, layerDir) => dropLayer(path.resolve(layerDir)),
    limitMechanisms: (diskQuota) => Promise.resolve(microvmApplied(diskQuota)),
  };
}
