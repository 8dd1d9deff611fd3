// Can this host run agent VMs? QEMU, a static busybox, virtiofsd, e2fsprogs and a kernel (or a way to fetch
// one); Firecracker is recognised but not driven yet. Cheap: nothing boots here (the KVM probe runs at first start).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { installHint } from '../bwrap/probe.ts';
import type { Availability } from '../types.ts';
import { QEMU } from './argv.ts';
import { DEFAULT_BUSYBOX, isStaticElf } from './initramfs.ts';
import { findKernel } from './kernel.ts';
import { VIRTIOFSD_PATHS } from './share.ts';

const PROBE_TIMEOUT_MS = 10_000;
export const FIRECRACKER = 'firecracker';

export type Hypervisor = 'qemu' | 'firecracker';

function version(cmd: string, flag = '--version'): string | undefined {
  const r = spawnSync(cmd, [flag], {
    encoding: 'utf8',
    timeout: PROBE_TIMEOUT_MS,
    env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' },
  });
  return r.status === 0 ? (r.stdout.split('\n')[0] ?? '').trim() : undefined;
}

export function findVirtiofsd(): string | undefined {
  return VIRTIOFSD_PATHS.find((p) => fs.existsSync(p));
}

function staticBusybox(p: string): boolean {
  try {
    return isStaticElf(fs.readFileSync(p));
  } catch {
    return false;
  }
}

export function probeMicrovm(opts: {
  hypervisor: Hypervisor;
  /** microvm.kernel, or the default kernel directory in the cache */
  kernel: string;
  /** true when no kernel was configured: the default one is fetched on first start */
  kernelFetchable: boolean;
  busybox?: string;
}): Availability {
  if (opts.hypervisor === 'firecracker') {
    return version(FIRECRACKER) === undefined
      ? {
          ok: false,
          reason: 'Firecracker is not installed (Debian does not package it)',
          fix: 'install a release binary from github.com/firecracker-microvm/firecracker as /usr/local/bin/firecracker, or set microvm.hypervisor: qemu',
        }
      : {
          ok: false,
          reason: 'Firecracker is installed, but this corral drives only QEMU so far',
          fix: 'set microvm.hypervisor: qemu (docs/isolation.md, "microVM")',
        };
  }
  const qemu = version(QEMU);
  if (qemu === undefined)
    return { ok: false, reason: `${QEMU} is not installed`, fix: installHint('qemu-system-x86') };
  const busybox = opts.busybox ?? DEFAULT_BUSYBOX;
  if (!staticBusybox(busybox)) {
    return {
      ok: false,
      reason: `no static busybox at ${busybox} for the guest's init`,
      fix: installHint('busybox-static'),
    };
  }
  if (findVirtiofsd() === undefined) {
    return {
      ok: false,
      reason: `virtiofsd is missing (looked in ${VIRTIOFSD_PATHS.join(', ')})`,
      fix: installHint('qemu-system-common'),
    };
  }
  for (const [tool, flag, pkg] of [
    ['mkfs.ext4', '-V', 'e2fsprogs'],
    ['setpriv', '--version', 'util-linux'],
    ['unshare', '--version', 'util-linux'],
  ] as const) {
    if (version(tool, flag) === undefined)
      return { ok: false, reason: `${tool} is missing`, fix: installHint(pkg) };
  }
  const kernel = findKernel(opts.kernel);
  if (kernel === undefined && !(opts.kernelFetchable && version('apt-get') !== undefined)) {
    return {
      ok: false,
      reason: `no guest kernel at ${opts.kernel}`,
      fix: 'set microvm.kernel in corral.yaml to a vmlinuz (modules in /lib/modules/VERSION) or an unpacked linux-image package',
    };
  }
  const k = kernel === undefined ? 'Debian cloud kernel, fetched on first start' : `kernel ${kernel.version}`;
  return { ok: true, detail: `${qemu}; ${k}` };
}
