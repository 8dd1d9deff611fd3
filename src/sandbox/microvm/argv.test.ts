import { describe, expect, it } from 'vitest';
import { DEFAULT_LIMITS, GIB, MIB } from '../types.ts';
import type { VmPlan } from './argv.ts';
import {
  dropPrivileges,
  kernelCmdline,
  MIN_VM_MEMORY_MIB,
  qemuArgv,
  VM_OVERHEAD_MIB,
  vmSize,
} from './argv.ts';
import { shareEntries, virtiofsdArgv } from './share.ts';

function plan(over: Partial<VmPlan> = {}): VmPlan {
  return {
    name: 'corral-t',
    accel: 'tcg',
    memoryMiB: 512,
    cpus: 1,
    kernel: '/proc/self/fd/8',
    initrd: '/proc/self/fd/9',
    append: kernelCmdline('tcg', 2_000_000),
    baseDiskFd: 10,
    layerDiskFds: [11, 12],
    portFds: { stdin: 3, stdout: 4, stderr: 5, ctl: 6, gateway: 7 },
    shareSocket: '/run/x/share.sock',
    ...over,
  };
}

/** The value after each occurrence of `flag`. */
const values = (argv: string[], flag: string): string[] =>
  argv.flatMap((a, i) => (a === flag ? [argv[i + 1] ?? ''] : []));

describe('qemuArgv', () => {
  it('gives the guest no network device at all', () => {
    const argv = qemuArgv(plan());
    expect(argv).toContain('-nodefaults');
    expect(values(argv, '-nic')).toEqual(['none']);
    expect(argv.join(' ')).not.toMatch(/netdev|virtio-net|e1000|rtl8139|vhost-vsock|user,/);
  });

  it('attaches the base image read-only and only the agent disk writable', () => {
    const drives = values(qemuArgv(plan()), '-drive');
    expect(drives).toHaveLength(2);
    expect(drives.find((d) => d.includes('id=base'))).toMatch(/file=\/dev\/fdset\/1,.*readonly=on/);
    expect(drives.find((d) => d.includes('id=layer'))).not.toMatch(/readonly/);
    expect(values(qemuArgv(plan()), '-add-fd')).toEqual(['fd=10,set=1', 'fd=11,set=2', 'fd=12,set=2']);
  });

  it("sizes the VM from the limits: the agent's memory plus the guest's own (with a floor), whole vCPUs", () => {
    const o = VM_OVERHEAD_MIB;
    expect(vmSize({ memoryBytes: 512 * MIB, cpus: 1 })).toEqual({ memoryMiB: 512 + o, cpus: 1 });
    expect(vmSize({ memoryBytes: 2 * GIB, cpus: 1.5 })).toEqual({ memoryMiB: 2048 + o, cpus: 2 });
    expect(vmSize({ memoryBytes: 64 * MIB, cpus: 0.25 })).toEqual({ memoryMiB: MIN_VM_MEMORY_MIB, cpus: 1 });
    const argv = qemuArgv(plan({ ...vmSize({ memoryBytes: 2 * GIB, cpus: 3 }) }));
    expect(values(argv, '-m')).toEqual([`${2048 + o}M`]);
    expect(values(argv, '-smp')).toEqual(['3']);
    expect(values(argv, '-object')).toEqual([`memory-backend-memfd,id=mem,size=${2048 + o}M,share=on`]);
    expect(vmSize(DEFAULT_LIMITS).memoryMiB).toBe(512 + o);
  });

  it('runs QEMU under its seccomp filter on the microvm machine', () => {
    const argv = qemuArgv(plan());
    expect(values(argv, '-sandbox')[0]).toMatch(/^on,.*spawn=deny.*resourcecontrol=deny/);
    expect(values(argv, '-machine')).toEqual(['microvm,memory-backend=mem']);
  });

  it('uses KVM with the host CPU, or TCG with a bounded code cache and the TSC frequency', () => {
    const tcg = qemuArgv(plan());
    expect(values(tcg, '-accel')[0]).toMatch(/^tcg,tb-size=\d+$/);
    expect(values(tcg, '-cpu')).toEqual(['max']);
    expect(values(tcg, '-append')[0]).toContain('tsc_early_khz=2000000');
    const kvm = qemuArgv(plan({ accel: 'kvm', append: kernelCmdline('kvm', 2_000_000) }));
    expect(values(kvm, '-accel')).toEqual(['kvm']);
    expect(values(kvm, '-cpu')).toEqual(['host']);
    expect(values(kvm, '-append')[0]).not.toContain('tsc_early_khz');
  });

  it('names one virtio-serial port per stream, each on its inherited socket', () => {
    const argv = qemuArgv(plan());
    expect(values(argv, '-chardev')).toContain('socket,id=gateway,fd=7');
    expect(values(argv, '-device')).toContain('virtserialport,bus=ports.0,chardev=stdin,name=corral.stdin');
    expect(values(argv, '-device').filter((d) => d.startsWith('virtserialport'))).toHaveLength(5);
  });
});

describe('dropPrivileges', () => {
  it("runs as the agent's uid without capabilities, new privileges or supplementary groups", () => {
    const argv = dropPrivileges({ uid: 1_500_000_007, gid: 1_500_000_007 });
    expect(argv.slice(0, 3)).toEqual(['setpriv', '--pdeathsig', 'KILL']);
    expect(values(argv, '--reuid')).toEqual(['1500000007']);
    expect(values(argv, '--regid')).toEqual(['1500000007']);
    expect(argv).toContain('--clear-groups');
    expect(values(argv, '--bounding-set')).toEqual(['-all']);
    expect(argv).toContain('--no-new-privs');
    expect(argv.at(-1)).toBe('--');
  });

  it('adds only the groups asked for, and keeps the bounding set for a user-namespace helper', () => {
    const argv = dropPrivileges({ uid: 7, gid: 7 }, { groups: [993], userns: true });
    expect(values(argv, '--groups')).toEqual(['993']);
    expect(argv).not.toContain('--clear-groups');
    expect(argv).not.toContain('--bounding-set');
    expect(dropPrivileges(undefined)).toEqual(['setpriv', '--pdeathsig', 'KILL', '--no-new-privs', '--']);
  });
});

describe('virtiofsdArgv', () => {
  it('shares the workspace read-write and everything else read-only, as the agent', () => {
    const entries = shareEntries(
      {
        workspaceDir: '/d/ws',
        runtimeDir: '/d/rt',
        etcDir: '/d/etc',
        caBundle: '/d/ca.pem',
        extraReadOnly: ['/opt/node'],
      },
      '/d/launch',
    );
    expect(entries.filter((e) => e.access === 'rw').map((e) => e.host)).toEqual(['/d/ws']);
    expect(entries.map((e) => e.name)).toEqual([
      'workspace',
      'runtime',
      'etc',
      'launch',
      'ca.crt',
      'extra-0',
    ]);
    const base = { virtiofsd: '/usr/lib/qemu/virtiofsd', entries, socketPath: '/r/s.sock' };
    const dirs = { stageDir: '/r/share', lockDir: '/r/lock' };
    // as root: the tree is assembled by root in a private mount namespace, then virtiofsd drops to the agent
    const asRoot = virtiofsdArgv({ ...base, ...dirs, ids: { uid: 9, gid: 9 } });
    const drop = asRoot.indexOf('--reuid');
    const assembled = asRoot.indexOf('corral-share');
    expect(asRoot.slice(0, 7)).toEqual(['setpriv', '--pdeathsig', 'KILL', '--', 'unshare', '--mount', '--']);
    expect(assembled).toBeLessThan(drop);
    expect(asRoot.slice(assembled + 1, assembled + 7)).toEqual([
      '/r/share',
      '/r/lock',
      '9:9',
      'rw',
      '/d/ws',
      'workspace',
    ]);
    expect(values(asRoot, '--reuid')).toEqual(['9']);
    expect(asRoot.slice(drop)).toContain('--map-root-user');
    expect(asRoot.slice(drop)).toContain('--socket-path=/r/s.sock');
    expect(asRoot).toContain('source=/r/share');
    // as an ordinary user: one user namespace of the caller around all of it
    const asUser = virtiofsdArgv({ ...base, ...dirs, ids: undefined });
    expect(asUser.indexOf('--map-root-user')).toBeLessThan(asUser.indexOf('corral-share'));
    expect(asUser).not.toContain('--reuid');
  });
});
