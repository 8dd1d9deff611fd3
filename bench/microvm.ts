// corral bench --only microvm: a microVM's boot of the bare guest (kernel and initramfs to init) and a sandbox's
// start → runtime ready through the real host, under the accelerator the backend chose (KVM, else TCG); the
// memory one idle VM costs the host, and how many idle VMs that fits in 24 GiB.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { initHome } from '../src/cli/commands/init.ts';
import { saveAgent } from '../src/config/agent-files.ts';
import { loadConfig, saveConfig } from '../src/config/config-file.ts';
import { resolveHome } from '../src/config/home.ts';
import { AgentConfig } from '../src/config/schema.ts';
import { unmountAgentVolume } from '../src/host/agent-volume.ts';
import { baseImageSource } from '../src/host/base-image.ts';
import { launchSandbox } from '../src/host/launch.ts';
import { openHost } from '../src/host/open.ts';
import { hostTscKhz, probeBoot } from '../src/sandbox/microvm/accel.ts';
import { createGuestSource } from '../src/sandbox/microvm/guest.ts';
import { readState, vmsDir } from '../src/sandbox/microvm/state.ts';
import { vmSize } from '../src/sandbox/microvm/argv.ts';
import { DEFAULT_LIMITS, GIB } from '../src/sandbox/types.ts';
import { createLogger } from '../src/util/log.ts';
import { startModelServer } from '../test/fixtures/model-server.ts';
import { testKernelDir } from '../test/fixtures/microvm.ts';
import type { Stats } from './stats.ts';
import { stats } from './stats.ts';

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

interface MemoryOf {
  rss: number;
}

function memoryOf(pid: number | undefined): MemoryOf {
  try {
    const m = /VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${String(pid)}/status`, 'utf8'));
    return { rss: Math.round((Number(m?.[1] ?? 0) / 1024) * 10) / 10 };
  } catch {
    return { rss: 0 };
  }
}

/** The children of a process (virtiofsd forks once for its sandbox). */
function childrenOf(pid: number | undefined): number[] {
  try {
    return fs
      .readFileSync(`/proc/${String(pid)}/task/${String(pid)}/children`, 'utf8')
      .trim()
      .split(/\s+/)
      .filter((p) => p !== '')
      .map(Number);
  } catch {
    return [];
  }
}

export async function runMicrovmBench(opts: {
  iterations: number;
  progress: (msg: string) => void;
}): Promise<MicrovmBenchResult> {
  const n = opts.iterations;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'corral-bench-microvm-'));
  fs.chmodSync(dir, 0o711);
  const server = await startModelServer();
  const log = createLogger({ level: 'error' });
  const home = resolveHome({ CORRAL_HOME: dir });
  const ctx = { home, log, out: () => undefined, err: () => undefined };
  // the test kernel when this checkout has one (CI unpacks it), else Debian's, fetched into this home's cache
  const kernel = fs.existsSync(testKernelDir()) ? testKernelDir() : undefined;
  try {
    initHome(ctx);
    const config = loadConfig(home);
    saveConfig(home, {
      ...config,
      providers: { stand: { kind: 'anthropic', baseUrl: server.url, keySecret: 'K' } },
      ...(kernel === undefined ? {} : { microvm: { kernel, accel: 'auto', hypervisor: 'qemu' } }),
    });
    saveAgent(home, AgentConfig.parse({ name: 'bench', model: 'stand:claude-bench', backend: 'microvm' }));
    const opened = openHost(home, log);
    opened.store.putSecret('K', 'bench-key');
    try {
      opts.progress('base image');
      const image = await baseImageSource(home)();
      const probe = await opened.sandboxes.get('microvm').probe();
      if (!probe.ok) throw new Error(`microvm: ${probe.reason} (${probe.fix})`);

      opts.progress('guest kernel, initramfs and accelerator');
      const guest = await createGuestSource({
        cacheDir: path.join(home.cacheDir, 'microvm'),
        ...(kernel === undefined ? {} : { kernel }),
        accel: 'auto',
        isRoot: process.getuid?.() === 0,
        log,
      })();
      opts.progress(`boot to init (${guest.accel})`);
      const boots: number[] = [];
      for (let i = 0; i < n; i++) {
        const ms = await probeBoot({
          accel: guest.accel,
          kernel: guest.kernel,
          initrd: guest.initrd,
          tscKhz: hostTscKhz(),
          timeoutMs: BOOT_TIMEOUT_MS,
        });
        if (ms === undefined)
          throw new Error(`the guest did not reach its init within ${BOOT_TIMEOUT_MS} ms`);
        boots.push(ms);
      }

      opts.progress('sandbox start → runtime ready');
      const deps = {
        home,
        store: opened.store,
        sandboxes: opened.sandboxes,
        gateway: opened.gateway,
        log,
        isRoot: process.getuid?.() === 0,
        baseImage: () => Promise.resolve(image),
      };
      const agent = { name: 'bench', backend: 'microvm' };
      await (await launchSandbox(deps, agent)).stop(); // base disk, layer disk
      const ready: number[] = [];
      for (let i = 0; i < n; i++) {
        const t0 = performance.now();
        const s = await launchSandbox(deps, agent);
        ready.push(performance.now() - t0);
        await s.stop();
      }

      opts.progress('idle memory');
      const idle = await launchSandbox(deps, agent);
      await new Promise((r) => setTimeout(r, SETTLE_MS));
      const state = readState(path.join(vmsDir(home.runDir), idle.id));
      const qemu = memoryOf(state?.qemu?.pid);
      const fsd = [state?.virtiofsd?.pid, ...childrenOf(state?.virtiofsd?.pid)]
        .map((p) => memoryOf(p).rss)
        .reduce((a, b) => a + b, 0);
      await idle.stop();
      const perVm = qemu.rss + fsd;
      return {
        accel: guest.accel,
        accelReason: guest.accelReason,
        kernel: guest.kernel.version,
        bootToInit: stats(boots),
        runtimeReady: stats(ready),
        idleQemuMiB: qemu.rss,
        idleVirtiofsdMiB: Math.round(fsd * 10) / 10,
        vmMemoryMiB: vmSize(DEFAULT_LIMITS).memoryMiB,
        idlePer24GiB: perVm > 0 ? Math.floor((24 * GIB) / (perVm * 1024 * 1024)) : 0,
      };
    } finally {
      await opened.close();
      await unmountAgentVolume(home, 'bench');
    }
  } finally {
    await server.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export function formatMicrovmBench(r: MicrovmBenchResult): string {
  const row = (name: string, s: Stats): string =>
    `${name.padEnd(40)} median ${s.median.toFixed(0).padStart(7)} ms  p95 ${s.p95.toFixed(0).padStart(7)} ms\n`;
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
