// Everything a VM boots from, prepared once per process: the kernel (fetched on first need), the initramfs built
// for it, and the accelerator (KVM when a guest really boots under it, else TCG with a notice).
import fs from 'node:fs';
import path from 'node:path';
import { CorralError } from '../../util/errors.ts';
import type { Logger } from '../../util/log.ts';
import type { AccelMode } from './accel.ts';
import { chooseAccel, KVM_DEVICE } from './accel.ts';
import type { Accel } from './argv.ts';
import { ensureInitramfs } from './initramfs.ts';
import type { GuestKernel } from './kernel.ts';
import { DEBIAN_KERNEL_PACKAGE, fetchDebianKernel, findKernel } from './kernel.ts';

export interface GuestBoot {
  kernel: GuestKernel;
  initrd: string;
  accel: Accel;
  accelReason: string;
  /** supplementary groups QEMU needs (the group of /dev/kvm) */
  groups: number[];
}

export interface GuestOptions {
  /** the backend's cache: initramfs images, the fetched kernel, the KVM verdict */
  cacheDir: string;
  /** microvm.kernel: a vmlinuz file or an unpacked kernel package; default: Debian's, fetched into the cache */
  kernel?: string;
  accel: AccelMode;
  busybox?: string;
  /** corral runs as root, so QEMU runs as an agent's uid and needs /dev/kvm through a group */
  isRoot: boolean;
  log: Logger;
}

export function defaultKernelDir(cacheDir: string): string {
  return path.join(cacheDir, 'kernel');
}

async function resolveKernel(opts: GuestOptions): Promise<GuestKernel> {
  if (opts.kernel !== undefined) {
    const k = findKernel(opts.kernel);
    if (k === undefined) {
      throw new CorralError(
        'microvm_kernel',
        `microvm.kernel ${opts.kernel} is neither a vmlinuz with its modules nor an unpacked kernel package`,
        'point it at a vmlinuz-VERSION whose modules are in /lib/modules/VERSION, or at a directory with boot/ and lib/modules/',
      );
    }
    return k;
  }
  const dir = defaultKernelDir(opts.cacheDir);
  const found = findKernel(dir);
  if (found !== undefined) return found;
  opts.log.info(`microvm: fetching Debian's ${DEBIAN_KERNEL_PACKAGE} (about 27 MB) into ${dir}`);
  return fetchDebianKernel(dir);
}

/** QEMU runs as an agent's uid: it can use /dev/kvm only through the device's group (Debian: kvm, 0660). */
function kvmGroups(isRoot: boolean): number[] | string {
  if (!isRoot) return [];
  const st = fs.statSync(KVM_DEVICE);
  if ((st.mode & 0o006) === 0o006) return [];
  if ((st.mode & 0o060) === 0o060 && st.gid !== 0) return [st.gid];
  return `${KVM_DEVICE} is usable by root only, and QEMU runs as each agent's own uid`;
}

async function prepare(opts: GuestOptions): Promise<GuestBoot> {
  const kernel = await resolveKernel(opts);
  const initrd = await ensureInitramfs(kernel, path.join(opts.cacheDir, 'initramfs'), opts.busybox);
  const verdict = await chooseAccel({ mode: opts.accel, kernel, initrd, cacheDir: opts.cacheDir });
  const kvmFix = 'use a host where KVM works (see docs/isolation.md, "microVM"), or set microvm.accel: tcg';
  if (verdict.accel === 'none') throw new CorralError('microvm_no_kvm', `KVM: ${verdict.reason}`, kvmFix);
  let boot: GuestBoot = { kernel, initrd, accel: verdict.accel, accelReason: verdict.reason, groups: [] };
  if (verdict.accel === 'kvm') {
    const groups = kvmGroups(opts.isRoot);
    if (typeof groups === 'string') {
      if (opts.accel === 'kvm')
        throw new CorralError('microvm_no_kvm', `KVM: ${groups}`, 'chgrp kvm /dev/kvm && chmod 660 /dev/kvm');
      boot = { ...boot, accel: 'tcg', accelReason: groups };
    } else {
      boot = { ...boot, groups };
    }
  }
  if (boot.accel === 'tcg') {
    opts.log.warn(
      `microvm: guests run under TCG emulation (${boot.accelReason}); that is for testing, not for speed`,
    );
  }
  return boot;
}

/** Prepares the guest on first call and shares the result; a failure is retried on the next call. */
export function createGuestSource(opts: GuestOptions): () => Promise<GuestBoot> {
  let ready: Promise<GuestBoot> | undefined;
  return () => {
    ready ??= prepare(opts);
    ready.catch(() => (ready = undefined));
    return ready;
  };
}
