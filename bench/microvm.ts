// corral bench --only microvm: a microVM's boot of the bare guest (kernel and initramfs to init) and a sandbox's
// start → runtime ready through the real host, under the accelerator the backend chose (KVM, else TCG); the
// memory one idle VM costs the host, and how many idle VMs that fits in 24 GiB.
import fs from 'node:fs';
import path from 'node:path';
import type { CorralConfig } from '../src/config/schema.ts';
import { hostTscKhz, probeBoot } from '../src/sandbox/microvm/accel.ts';
import { vmSize } from '../src/sandbox/microvm/argv.ts';
import type { GuestBoot } from '../src/sandbox/microvm/guest.ts';
import { createGuestSource } from '../src/sandbox/microvm/guest.ts';
import { readState, vmsDir } from '../src/sandbox/microvm/state.ts';
import { DEFAULT_LIMITS, GIB } from '../src/sandbox/types.ts';
import { testKernelDir } from '../test/fixtures/microvm.ts';
import type { BenchHome } from './backend-harness.ts';
import { timeLaunches, withBenchHome } from './backend-harness.ts';
import { childrenOf, rssMiB } from './procs.ts';
import type { Stats } from './stats.ts';
import { stats, statRow } from './stats.ts';

const BOOT_TIMEOUT_MS = 120_000;
const SETTLE_MS = 3_000;

export interface MicrovmBenchResult {
  accel: 'kvm' | 'tcg';
  accelReason: string;
  kernel: string;
  /** QEMU start to the init's first word: kernel and initramfs only, no disks */
  bootToInit: Stats;
  runtimeReady: Stats;
  /** resident memory of an idle sandbox's QEMU (guest pages it touched included) and of its virtiofsd (MiB) */
  idleQemuMiB: number;
  idleVirtiofsdMiB: number;
  /** guest memory the VM has (the agent's limit plus the guest's own), for scale */
  vmMemoryMiB: number;
  idlePer24GiB: number;
}

/** The test kernel when this checkout has one (CI unpacks it), else undefined: Debian's, fetched into the cache. */
export function benchKernel(): string | undefined {
  return fs.existsSync(testKernelDir()) ? testKernelDir() : undefined;
}

/** The microvm settings the benchmarks run with. */
export function benchMicrovmConfig(kernel: string | undefined): Partial<CorralConfig> {
  return kernel === undefined ? {} : { microvm: { kernel, accel: 'auto', hypervisor: 'qemu' } };
}

/** The guest kernel and initramfs the bench home's sandboxes boot, and the accelerator chosen for them. */
export function benchGuest(b: BenchHome, kernel: string | undefined): Promise<GuestBoot> {
  return createGuestSource({
    cacheDir: path.join(b.home.cacheDir, 'microvm'),
    ...(kernel === undefined ? {} : { kernel }),
    accel: 'auto',
    isRoot: process.getuid?.() === 0,
    log: b.log,
  })();
}

/** QEMU start → the guest's init, in ms: the raw microVM boot, with no corral around it. */
export async function bootToInit(guest: GuestBoot, timeoutMs = BOOT_TIMEOUT_MS): Promise<number> {
  const ms = await probeBoot({
    accel: guest.accel,
    kernel: guest.kernel,
    initrd: guest.initrd,
    tscKhz: hostTscKhz(),
    timeoutMs,
  });
  if (ms === undefined) throw new Error(`the guest did not reach its init within ${timeoutMs} ms`);
  return ms;
}

export async function runMicrovmBench(opts: {
  iterations: number;
  progress: (msg: string) => void;
}): Promise<MicrovmBenchResult> {
  const n = opts.iterations;
  const kernel = benchKernel();
  return withBenchHome(
    {
      backend: 'microvm',
      agents: ['bench'],
      prefix: 'corral-bench-microvm-',
      noImage: '',
      config: benchMicrovmConfig(kernel),
      progress: opts.progress,
    },
    async (b) => {
      opts.progress('guest kernel, initramfs and accelerator');
      const guest = await benchGuest(b, kernel);
      opts.progress(`boot to init (${guest.accel})`);
      const boots: number[] = [];
      for (let i = 0; i < n; i++) {
        boots.push(await bootToInit(guest));
      }

      opts.progress('sandbox start → runtime ready');
      const ready = await timeLaunches(b, 'bench', n);

      opts.progress('idle memory');
      const idle = await b.launch('bench');
      await new Promise((r) => setTimeout(r, SETTLE_MS));
      const state = readState(path.join(vmsDir(b.home.runDir), idle.id));
      const qemu = state?.qemu?.pid === undefined ? 0 : rssMiB([state.qemu.pid]);
      const fsdPid = state?.virtiofsd?.pid;
      const fsd = fsdPid === undefined ? 0 : rssMiB([fsdPid, ...childrenOf(fsdPid)]);
      await idle.stop();
      const perVm = qemu + fsd;
      return {
        accel: guest.accel,
        accelReason: guest.accelReason,
        kernel: guest.kernel.version,
        bootToInit: stats(boots),
        runtimeReady: stats(ready),
        idleQemuMiB: qemu,
        idleVirtiofsdMiB: fsd,
        vmMemoryMiB: vmSize(DEFAULT_LIMITS).memoryMiB,
        idlePer24GiB: perVm > 0 ? Math.floor((24 * GIB) / (perVm * 1024 * 1024)) : 0,
      };
    },
  );
}

export function formatMicrovmBench(r: MicrovmBenchResult): string {
  const row = (name: string, s: Stats): string => statRow(name, s, { width: 40, digits: 0 });
  return (
    `microvm (${r.accel}: ${r.accelReason}; kernel ${r.kernel})\n` +
    row('QEMU start → guest init', r.bootToInit) +
    row('sandbox start → runtime ready', r.runtimeReady) +
    `idle memory: ${r.idleQemuMiB} MiB QEMU (guest pages touched included) + ${r.idleVirtiofsdMiB} MiB virtiofsd ` +
    `per VM of ${r.vmMemoryMiB} MiB: about ${r.idlePer24GiB} idle VMs per 24 GiB\n` +
    (r.accel === 'tcg'
      ? 'TCG emulation: for testing, not for speed (see docs/isolation.md, "microVM")\n'
      : '')
  );
}
