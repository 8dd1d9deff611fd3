// The OCI boundary as data: what config.json maps, mounts, limits and filters, and what it must never expose.
import { describe, expect, it } from 'vitest';
import type { SandboxSpec } from '../types.ts';
import { DEFAULT_LIMITS, MIB } from '../types.ts';
import type { OciConfigOptions } from './config.ts';
import { MASKED_PATHS, ociConfig, READONLY_PATHS } from './config.ts';
import { DENIED_SYSCALLS, seccompProfile } from './seccomp.ts';

const spec = (over: Partial<SandboxSpec> = {}): SandboxSpec => ({
  sandboxId: 'c0ffee-1',
  agent: 'a',
  workspaceDir: '/h/data/a/workspace',
  runtimeDir: '/h/cache/rt',
  gatewayDir: '/h/run/s1/gw',
  etcDir: '/h/run/s1/etc',
  hostIds: { uid: 1_500_000_007, gid: 1_500_000_007 },
  env: { PATH: '/usr/bin:/bin', HOME: '/root' },
  limits: DEFAULT_LIMITS,
  extraReadOnly: [],
  command: ['/usr/local/bin/node', '/opt/corral/runtime.cjs'],
  ...over,
});

const runc: OciConfigOptions = {
  runtime: 'runc',
  rootPath: '/h/run/runc/bundles/c0ffee-1/rootfs',
  netnsPath: '/h/run/runc/bundles/c0ffee-1/netns',
  swapLimit: true,
  nprocRlimit: false,
  arch: 'x64',
};

describe('ociConfig', () => {
  it('maps root inside to the agent uid alone, never to host root', () => {
    const c = ociConfig(spec(), runc);
    expect(c.process.user).toEqual({ uid: 0, gid: 0 });
    expect(c.linux.uidMappings).toEqual([{ containerID: 0, hostID: 1_500_000_007, size: 1 }]);
    expect(c.linux.gidMappings).toEqual([{ containerID: 0, hostID: 1_500_000_007, size: 1 }]);
    expect(() => ociConfig(spec({ hostIds: undefined }), runc)).toThrow(/unprivileged host uid/);
  });

  it('runs the command with exactly the given environment, no capabilities and no_new_privs', () => {
    const c = ociConfig(spec(), runc);
    expect(c.process.args).toEqual(['/usr/local/bin/node', '/opt/corral/runtime.cjs']);
    expect(c.process.env).toEqual(['PATH=/usr/bin:/bin', 'HOME=/root']);
    expect(c.process.cwd).toBe('/workspace');
    expect(c.process.terminal).toBe(false);
    expect(c.process.noNewPrivileges).toBe(true);
    for (const set of Object.values(c.process.capabilities)) expect(set).toEqual([]);
  });

  it('creates every namespace, and runc joins the prepared loopback-only network namespace', () => {
    const c = ociConfig(spec(), runc);
    const types = c.linux.namespaces.map((n) => n.type).sort();
    expect(types).toEqual(['cgroup', 'ipc', 'mount', 'network', 'pid', 'user', 'uts']);
    expect(c.linux.namespaces.find((n) => n.type === 'network')).toEqual({
      type: 'network',
      path: runc.netnsPath,
    });
    const { netnsPath: _unused, ...noNetns } = runc;
    expect(() => ociConfig(spec(), noNetns)).toThrow(/network namespace/);
    const g = ociConfig(spec(), { ...noNetns, runtime: 'gvisor' });
    expect(g.linux.namespaces.find((n) => n.type === 'network')).toEqual({ type: 'network' });
  });

  it('mounts the workspace read-write and the runtime, gateway and generated files read-only', () => {
    const c = ociConfig(spec({ caBundle: '/h/run/s1/ca.pem' }), runc);
    const at = (dest: string) => c.mounts.find((m) => m.destination === dest);
    expect(at('/workspace')).toMatchObject({ type: 'bind', source: '/h/data/a/workspace' });
    expect(at('/workspace')?.options).toContain('rw');
    for (const [dest, source] of [
      ['/opt/corral', '/h/cache/rt'],
      ['/run/corral', '/h/run/s1/gw'],
      ['/etc/hosts', '/h/run/s1/etc/hosts'],
      ['/etc/resolv.conf', '/h/run/s1/etc/resolv.conf'],
      ['/etc/ssl/certs/ca-certificates.crt', '/h/run/s1/ca.pem'],
    ] as const) {
      expect(at(dest)).toMatchObject({ type: 'bind', source });
      expect(at(dest)?.options).toContain('ro');
    }
    for (const m of c.mounts) expect(m.options).toContain('nosuid');
    // the only host paths in the sandbox are the ones the spec names, plus the root
    const hostSources = c.mounts.filter((m) => m.type === 'bind').map((m) => m.source);
    for (const s of hostSources) expect(s.startsWith('/h/')).toBe(true);
    expect(c.root).toEqual({ path: runc.rootPath, readonly: false });
  });

  it('has no host devices: /dev is an empty tmpfs, /sys is not mounted, the device cgroup denies all', () => {
    const c = ociConfig(spec(), runc);
    expect(c.mounts.find((m) => m.destination === '/dev')).toMatchObject({ type: 'tmpfs' });
    expect(c.mounts.some((m) => m.destination.startsWith('/dev/') && m.type === 'bind')).toBe(false);
    expect(c.mounts.some((m) => m.destination === '/sys')).toBe(false);
    expect(c.linux.resources.devices).toEqual([{ allow: false, access: 'rwm' }]);
    expect(JSON.stringify(c)).not.toContain('/dev/kvm');
  });

  it('caps the in-memory file systems', () => {
    const c = ociConfig(spec(), runc);
    for (const m of c.mounts.filter((x) => x.type === 'tmpfs')) {
      expect(m.options.some((o) => o.startsWith('size='))).toBe(true);
      expect(m.options).toContain('nosuid');
    }
    expect(c.mounts.find((m) => m.destination === '/tmp')?.options).toContain('nodev');
  });

  it('masks host kernel details in /proc and makes its knobs read-only', () => {
    const c = ociConfig(spec(), runc);
    expect(c.linux.maskedPaths).toEqual(MASKED_PATHS);
    expect(c.linux.maskedPaths).toContain('/proc/kcore');
    expect(c.linux.readonlyPaths).toEqual(READONLY_PATHS);
    expect(c.linux.readonlyPaths).toEqual(expect.arrayContaining(['/proc/sys', '/proc/sysrq-trigger']));
  });

  it('turns the limits into cgroup resources and rlimits', () => {
    const limits = { ...DEFAULT_LIMITS, memoryBytes: 256 * MIB, cpus: 1.5, maxProcesses: 100 };
    const c = ociConfig(spec({ limits }), runc);
    expect(c.linux.resources.memory).toEqual({ limit: 256 * MIB, swap: 256 * MIB });
    expect(c.linux.resources.cpu).toEqual({ quota: 150_000, period: 100_000 });
    expect(c.linux.resources.pids).toEqual({ limit: 100 });
    expect(c.linux.cgroupsPath).toBe('/corral/c0ffee-1');
    const rl = Object.fromEntries(c.process.rlimits.map((r) => [r.type, r.hard]));
    expect(rl).toEqual({
      RLIMIT_NOFILE: DEFAULT_LIMITS.maxOpenFiles,
      RLIMIT_FSIZE: DEFAULT_LIMITS.maxFileBytes,
      RLIMIT_CORE: 0,
    });
    const withNproc = ociConfig(spec({ limits }), { ...runc, nprocRlimit: true }).process.rlimits;
    expect(withNproc).toContainEqual({ type: 'RLIMIT_NPROC', hard: 100, soft: 100 });
    expect(c.process.oomScoreAdj).toBeGreaterThan(0);
    // without swap accounting there is no swap limit to set (the host has no swap to give either)
    expect(ociConfig(spec({ limits }), { ...runc, swapLimit: false }).linux.resources.memory).toEqual({
      limit: 256 * MIB,
    });
    expect(ociConfig(spec({ limits }), { ...runc, pidsLimit: 456 }).linux.resources.pids).toEqual({
      limit: 456,
    });
  });

  it('refuses sandbox ids that are not plain names and host paths that must never be exposed', () => {
    expect(() => ociConfig(spec({ sandboxId: '../etc' }), runc)).toThrow(/sandbox id/);
    expect(() => ociConfig(spec({ sandboxId: 'a/b' }), runc)).toThrow(/sandbox id/);
    expect(() => ociConfig(spec({ extraReadOnly: ['/etc'] }), runc)).toThrow(/refusing/);
    expect(() => ociConfig(spec({ extraReadOnly: ['/'] }), runc)).toThrow(/refusing/);
  });

  it('carries a seccomp filter that denies the dangerous calls', () => {
    const c = ociConfig(spec(), runc);
    const s = c.linux.seccomp;
    expect(s?.defaultAction).toBe('SCMP_ACT_ALLOW');
    expect(s?.architectures).toEqual(['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32']);
    const denied = new Set(
      (s?.syscalls ?? [])
        .filter((r) => r.action === 'SCMP_ACT_ERRNO' && r.args === undefined)
        .flatMap((r) => r.names),
    );
    for (const name of [
      'kexec_load',
      'init_module',
      'finit_module',
      'bpf',
      'perf_event_open',
      'userfaultfd',
      'keyctl',
      'add_key',
      'request_key',
      'mount',
      'umount2',
      'pivot_root',
      'open_by_handle_at',
      'swapon',
      'swapoff',
      'reboot',
      'ptrace',
    ])
      expect(denied.has(name), name).toBe(true);
  });
});

describe('seccompProfile', () => {
  const rules = (clone3Enosys: boolean) => seccompProfile({ clone3Enosys, arch: 'x64' }).syscalls;

  it('refuses a new user namespace through clone and unshare, by flag, with EPERM', () => {
    const r = rules(true).find((x) => x.names.includes('unshare'));
    expect(r?.names).toEqual(['clone', 'unshare']);
    expect(r?.errnoRet).toBe(1);
    expect(r?.args).toEqual([
      { index: 0, value: 0x10000000, valueTwo: 0x10000000, op: 'SCMP_CMP_MASKED_EQ' },
    ]);
  });

  it('answers clone3 with ENOSYS for runc (libc falls back to clone) and leaves it to gVisor', () => {
    expect(rules(true).find((x) => x.names.includes('clone3'))?.errnoRet).toBe(38);
    expect(rules(false).some((x) => x.names.includes('clone3'))).toBe(false);
  });

  it('refuses personality flags that weaken the address space, but not a query', () => {
    const p = rules(true).filter((x) => x.names.includes('personality'));
    const refused = (persona: number): boolean =>
      p.some((r) =>
        (r.args ?? []).every(
          (a) => a.op === 'SCMP_CMP_MASKED_EQ' && (persona & a.value) >>> 0 === a.valueTwo,
        ),
      );
    expect(refused(0x0040000)).toBe(true); // ADDR_NO_RANDOMIZE
    expect(refused(0x0400000)).toBe(true); // READ_IMPLIES_EXEC
    expect(refused(0x0000008)).toBe(false); // PER_LINUX32
    expect(refused(0x0000000)).toBe(false); // PER_LINUX
    expect(refused(0xffffffff)).toBe(false); // PER_QUERY
    for (const r of p) for (const a of r.args ?? []) expect(a.value).toBeLessThanOrEqual(0xffffffff);
  });

  it('filters the 32-bit ABIs too, so int 0x80 cannot go around it', () => {
    expect(seccompProfile({ clone3Enosys: true, arch: 'arm64' }).architectures).toEqual([
      'SCMP_ARCH_AARCH64',
      'SCMP_ARCH_ARM',
    ]);
    expect(Object.values(DENIED_SYSCALLS).flat().length).toBeGreaterThan(40);
  });
});
