// KVM or TCG: KVM only when /dev/kvm opens AND a guest really boots under it within a short probe (in some
// nested VMs /dev/kvm opens but guests hang); the verdict is cached. Otherwise TCG, which is for testing.
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import type { Accel } from './argv.ts';
import { kernelCmdline, QEMU } from './argv.ts';
import { PROBE_ARG, PROBE_OK } from './guest-abi.ts';
import type { GuestKernel } from './kernel.ts';

export const KVM_DEVICE = '/dev/kvm';
/** A KVM guest reaches its init in well under a second; this leaves room for a busy host. */
export const KVM_PROBE_TIMEOUT_MS = 10_000;

export type AccelMode = 'auto' | 'kvm' | 'tcg';

const verdictSchema = z.object({ accel: z.enum(['kvm', 'tcg']), reason: z.string() });
export type AccelVerdict = z.infer<typeof verdictSchema>;

/** The host's TSC frequency: a TCG guest reads the host's TSC but cannot calibrate it. */
export function hostTscKhz(cpuinfo = '/proc/cpuinfo'): number | undefined {
  try {
    const m = /^cpu MHz\s*:\s*([0-9.]+)/m.exec(fs.readFileSync(cpuinfo, 'utf8'));
    return m?.[1] === undefined ? undefined : Math.round(Number(m[1]) * 1000);
  } catch {
    return undefined;
  }
}

function kvmOpens(): string | undefined {
  try {
    fs.closeSync(fs.openSync(KVM_DEVICE, 'r+'));
    return undefined;
  } catch (err) {
    return err instanceof Error && 'code' in err && err.code === 'ENOENT'
      ? `${KVM_DEVICE} does not exist`
      : `${KVM_DEVICE} does not open (${String(err instanceof Error ? err.message : err)})`;
  }
}

/**
 * Boots the initramfs in probe mode (its init reports and powers off at once): the milliseconds until the init
 * reported, or undefined when it did not within `timeoutMs`. The KVM probe, and the benchmark's raw boot.
 */
export function probeBoot(opts: {
  accel: Accel;
  kernel: GuestKernel;
  initrd: string;
  tscKhz?: number;
  timeoutMs: number;
}): Promise<number | undefined> {
  const args = ['-machine', 'microvm', '-accel', opts.accel, '-cpu', opts.accel === 'kvm' ? 'host' : 'max'];
  args.push('-m', '256M', '-smp', '1', '-nodefaults', '-no-user-config', '-nographic', '-no-reboot');
  args.push('-nic', 'none', '-serial', 'stdio', '-kernel', opts.kernel.vmlinuz, '-initrd', opts.initrd);
  args.push('-append', kernelCmdline(opts.accel, opts.tscKhz, [PROBE_ARG]).join(' '));
  return new Promise((resolve) => {
    const t0 = performance.now();
    const child = spawn(QEMU, args, { stdio: ['ignore', 'pipe', 'ignore'], env: { PATH: '/usr/bin:/bin' } });
    let out = '';
    let ms: number | undefined;
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs);
    child.stdout.on('data', (c: Buffer) => {
      out = (out + c.toString('latin1')).slice(-4096);
      if (ms === undefined && out.includes(PROBE_OK)) ms = performance.now() - t0;
    });
    child.once('error', () => undefined);
    child.once('close', () => {
      clearTimeout(timer);
      resolve(ms);
    });
  });
}

function verdictFile(cacheDir: string, kernel: GuestKernel): string {
  const key = crypto
    .createHash('sha256')
    .update(
      [os.release(), kernel.version, fs.statSync(KVM_DEVICE, { throwIfNoEntry: false })?.rdev].join('\0'),
    )
    .digest('hex')
    .slice(0, 16);
  return path.join(cacheDir, `accel-${key}.json`);
}

/**
 * Chooses the accelerator. `auto`: KVM when it works (probed once, the verdict cached in `cacheDir`), else TCG;
 * `kvm`: KVM or an error reason; `tcg`: TCG.
 */
export async function chooseAccel(opts: {
  mode: AccelMode;
  kernel: GuestKernel;
  initrd: string;
  cacheDir: string;
}): Promise<AccelVerdict | { accel: 'none'; reason: string }> {
  if (opts.mode === 'tcg') return { accel: 'tcg', reason: 'microvm.accel is tcg' };
  const closed = kvmOpens();
  if (closed !== undefined) {
    return opts.mode === 'kvm' ? { accel: 'none', reason: closed } : { accel: 'tcg', reason: closed };
  }
  const file = verdictFile(opts.cacheDir, opts.kernel);
  let verdict: AccelVerdict | undefined;
  try {
    verdict = verdictSchema.parse(JSON.parse(fs.readFileSync(file, 'utf8')));
  } catch {
    const boots =
      (await probeBoot({
        accel: 'kvm',
        kernel: opts.kernel,
        initrd: opts.initrd,
        timeoutMs: KVM_PROBE_TIMEOUT_MS,
      })) !== undefined;
    const accel: Accel = boots ? 'kvm' : 'tcg';
    verdict = {
      accel,
      reason: boots
        ? 'a guest booted under KVM'
        : `${KVM_DEVICE} opens but a guest did not boot under KVM within ${KVM_PROBE_TIMEOUT_MS / 1000} s (nested virtualization?)`,
    };
    fs.mkdirSync(opts.cacheDir, { recursive: true, mode: 0o755 });
    fs.writeFileSync(file, JSON.stringify(verdict) + '\n');
  }
  if (opts.mode === 'kvm' && verdict.accel !== 'kvm') return { accel: 'none', reason: verdict.reason };
  return verdict;
}
