import { describe, expect, it } from 'vitest';
import { CorralError } from '../../util/errors.ts';
import { DEFAULT_LIMITS, GIB, MIB } from '../types.ts';
import {
  assertSafeMount,
  containerCreateBody,
  execCreateBody,
  fixedConfigHash,
  sandboxMounts,
} from './create-body.ts';

const SOCKET = '/var/run/docker.sock';
const mounts = sandboxMounts({
  workspaceDir: '/srv/corral/data/a/workspace',
  runtimeDir: '/srv/corral/run/docker/agents/a/runtime',
  gatewayDir: '/srv/corral/run/docker/agents/a/gateway',
  caBundle: '/srv/corral/run/docker/agents/a/ca-bundle.crt',
  extraReadOnly: ['/opt/node-v20'],
});
const limits = { ...DEFAULT_LIMITS, memoryBytes: 256 * MIB, cpus: 1.5, maxProcesses: 100, maxFileBytes: GIB };
const body = containerCreateBody(
  { image: 'corral-base:x', labels: { 'corral.home': 'h' }, mounts, limits },
  SOCKET,
);

describe('Docker container create body', () => {
  it('has no network but loopback, no capability, no new privileges, no devices, not privileged', () => {
    const h = body.HostConfig;
    expect(h.NetworkMode).toBe('none');
    expect(h.CapDrop).toEqual(['ALL']);
    expect(h.CapAdd).toEqual([]);
    expect(h.SecurityOpt).toEqual(['no-new-privileges']);
    expect(h.Privileged).toBe(false);
    expect(h.Devices).toEqual([]);
    // the default seccomp profile and user namespace stay: nothing may switch them off
    expect(JSON.stringify(body)).not.toMatch(/seccomp|unconfined|UsernsMode|PidMode|"host"/);
  });

  it('sets every limit: memory without swap, CPU, processes, open files, file size, no core dumps', () => {
    const h = body.HostConfig;
    expect(h.Memory).toBe(256 * MIB);
    expect(h.MemorySwap).toBe(h.Memory);
    expect(h.NanoCpus).toBe(1_500_000_000);
    expect(h.PidsLimit).toBe(100);
    expect(h.Ulimits).toEqual([
      { Name: 'nofile', Soft: DEFAULT_LIMITS.maxOpenFiles, Hard: DEFAULT_LIMITS.maxOpenFiles },
      { Name: 'fsize', Soft: GIB, Hard: GIB },
      { Name: 'core', Soft: 0, Hard: 0 },
    ]);
    expect(h.Tmpfs['/tmp']).toMatch(/size=\d+/);
  });

  it('mounts the workspace read-write and everything else read-only, never the Docker socket', () => {
    const byTarget = Object.fromEntries(body.HostConfig.Mounts.map((m) => [m.Target, m]));
    expect(byTarget['/workspace']).toMatchObject({ Source: '/srv/corral/data/a/workspace', ReadOnly: false });
    for (const t of ['/opt/corral', '/run/corral', '/etc/ssl/certs/ca-certificates.crt', '/opt/node-v20'])
      expect(byTarget[t]?.ReadOnly).toBe(true);
    expect(body.HostConfig.Mounts.filter((m) => !m.ReadOnly)).toHaveLength(1);
    expect(JSON.stringify(body)).not.toContain('docker.sock');
  });

  it('refuses to mount the Docker socket, a directory holding it, or a host system directory', () => {
    for (const source of [SOCKET, '/var/run', '/run', '/var', '/', '/etc', '/home', '/var/lib/docker']) {
      expect(() => assertSafeMount({ source, target: '/x', readOnly: true }, SOCKET)).toThrow(CorralError);
    }
    expect(() =>
      containerCreateBody(
        { image: 'i', labels: {}, mounts: [{ source: '/var/run', target: '/r', readOnly: true }], limits },
        SOCKET,
      ),
    ).toThrow(/refusing to mount/);
    // a socket elsewhere (DOCKER_HOST) is protected the same way
    expect(() =>
      assertSafeMount({ source: '/srv/d', target: '/d', readOnly: true }, '/srv/d/docker.sock'),
    ).toThrow(CorralError);
    expect(() =>
      assertSafeMount({ source: '/srv/corral', target: '/w', readOnly: false }, SOCKET),
    ).not.toThrow();
  });

  it('re-creates a container only when something an update cannot change differs', () => {
    const hash = fixedConfigHash(body);
    const more = containerCreateBody(
      { image: 'other:tag', labels: {}, mounts, limits: { ...limits, memoryBytes: GIB, cpus: 2 } },
      SOCKET,
    );
    expect(fixedConfigHash(more)).toBe(hash);
    const fewerFiles = containerCreateBody(
      { image: 'corral-base:x', labels: {}, mounts, limits: { ...limits, maxOpenFiles: 64 } },
      SOCKET,
    );
    expect(fixedConfigHash(fewerFiles)).not.toBe(hash);
    const gvisor = containerCreateBody(
      { image: 'corral-base:x', labels: {}, mounts, limits, runtime: 'runsc' },
      SOCKET,
    );
    expect(gvisor.HostConfig.Runtime).toBe('runsc');
    expect(fixedConfigHash(gvisor)).not.toBe(hash);
  });

  it('runs each session as root of the container with exactly the environment given', () => {
    const exec = execCreateBody(['node', '/opt/corral/runtime.cjs'], { PATH: '/usr/bin', A: 'b=c' });
    expect(exec).toMatchObject({ User: '0:0', Tty: false, Privileged: false, AttachStdin: true });
    expect(exec.Env).toEqual(['PATH=/usr/bin', 'A=b=c']);
  });
});
