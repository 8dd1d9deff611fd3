// Escape attempts from inside a real sandbox: each must fail. Run against every OCI backend (*.escape.test.ts).
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HostIds, SandboxBackend, SandboxSpec } from '../types.ts';
import { DEFAULT_LIMITS } from '../types.ts';
import { testRoot } from './testing.ts';

const ESCAPE_TIMEOUT_MS = 60_000;
const HOST_MARKER = 'CORRAL_ESCAPE_HOST_MARKER';

/** A command that succeeds when the x86-64 system call `nr` fails with anything but EPERM. */
function refusedWithEperm(nr: number): string {
  return `python3 -c 'import ctypes,sys;l=ctypes.CDLL(None,use_errno=True);r=l.syscall(${nr},0,0,0,0,0);sys.exit(1 if r<0 and ctypes.get_errno()==1 else 0)'`;
}

/**
 * `disk` is the host's root file system device (major, minor): reading it raw would bypass every permission.
 * Each line: `name=held` when the attempt failed, `name=ESCAPED` when it worked. The probes are commands whose
 * success would be a hole; the runner only reports, the test judges.
 */
export function escapeScript(hostPort: number, disk: [number, number]): string {
  const attempts: [string, string][] = [
    ['mount', 'mount -t tmpfs none /mnt'],
    ['bind-mount', 'mount --bind /workspace /mnt'],
    ['nested-userns', 'unshare -U true'],
    ['nested-userns-root', 'unshare -Ur true'],
    ['netns', 'unshare -n true'],
    ['lo-down', 'ip link set lo down'],
    ['add-interface', 'ip link add corral0 type veth peer name corral1'],
    ['proc-sys-write', 'echo corral > /proc/sys/kernel/hostname'],
    ['sysrq', 'echo h > /proc/sysrq-trigger'],
    ['kvm', `python3 -c 'open("/dev/kvm","rb")'`],
    ['block-device-node', `mknod /tmp/corral-blk b ${disk[0]} ${disk[1]} && head -c1 /tmp/corral-blk`],
    ['host-disk', 'ls /dev | grep -qE "^(vd|sd|nvme|xvd|loop|dm-)"'],
    ['host-environ', `cat /proc/*/environ 2>/dev/null | tr '\\0' '\\n' | grep -q ${HOST_MARKER}`],
    [
      'ptrace',
      `python3 -c 'import ctypes,sys;l=ctypes.CDLL(None);sys.exit(0 if l.ptrace(0,0,0,0)==0 else 1)'`,
    ],
    // refused by the filter (EPERM) before the kernel even looks at the (invalid) arguments
    ['keyctl', refusedWithEperm(250)],
    ['bpf', refusedWithEperm(321)],
    ['userfaultfd', refusedWithEperm(323)],
    ['perf_event_open', refusedWithEperm(298)],
    ['no-aslr', 'setarch -R true'],
    ['chroot', 'chroot / true'],
    ['host-loopback', `python3 -c 'import socket;socket.create_connection(("127.0.0.1",${hostPort}),2)'`],
  ];
  const lines = attempts.map(
    ([name, cmd]) => `if ( ${cmd} ) >/dev/null 2>&1; then echo ${name}=ESCAPED; else echo ${name}=held; fi`,
  );
  return [
    ...lines,
    // still usable after all that: loopback up, its own files writable
    'ip -o link show lo | grep -q "LOOPBACK,UP" && echo lo=up || echo lo=down',
    'echo inside > /workspace/owned-by-agent',
    'echo "capeff=$(grep CapEff /proc/self/status | cut -f2)"',
  ].join('\n');
}

function rootDisk(): [number, number] {
  const dev = fs.statSync('/').dev;
  // Linux dev_t: major in bits 8-19, minor in bits 0-7 and 20-31
  return [(dev >> 8) & 0xfff, (dev & 0xff) | ((dev >> 12) & 0xfff00)];
}

export function runEscapeSuite(name: string, makeBackend: () => SandboxBackend, hostIds: HostIds): void {
  describe(`escape attempts: ${name}`, () => {
    let rootDir = '';
    let server: net.Server;
    let port = 0;
    let facts: Record<string, string> = {};
    let stderr = '';

    beforeAll(async () => {
      // a host-side service on loopback: the sandbox has its own loopback and must not reach this one
      server = net.createServer((c) => c.end('host\n'));
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const addr = server.address();
      port = typeof addr === 'object' && addr !== null ? addr.port : 0;
      rootDir = fs.mkdtempSync(path.join(os.tmpdir(), 'corral-escape-'));
      fs.chmodSync(rootDir, 0o711);
      const dirs = ['workspace', 'runtime', 'gw', 'etc'].map((d) => path.join(rootDir, d));
      for (const d of dirs) fs.mkdirSync(d, { mode: 0o755 });
      const [workspaceDir = '', runtimeDir = '', gatewayDir = '', etcDir = ''] = dirs;
      fs.chownSync(workspaceDir, hostIds.uid, hostIds.gid);
      process.env[HOST_MARKER] = 'visible';
      const root = testRoot(rootDir);
      const spec: SandboxSpec = {
        sandboxId: `escape-${path.basename(rootDir).replace(/[^A-Za-z0-9]/g, '')}`,
        agent: 'escape',
        workspaceDir,
        runtimeDir,
        gatewayDir,
        etcDir,
        hostIds,
        env: { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' },
        limits: DEFAULT_LIMITS,
        extraReadOnly: [],
        ...(root === undefined ? {} : { root }),
        command: ['/bin/sh', '-c', escapeScript(port, rootDisk())],
      };
      const sandbox = await makeBackend().start(spec);
      let out = '';
      sandbox.stdout.on('data', (c: Buffer) => (out += c.toString()));
      sandbox.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      sandbox.stdin.end();
      await sandbox.exited;
      await sandbox.stop();
      delete process.env[HOST_MARKER];
      facts = Object.fromEntries(
        out
          .split('\n')
          .filter((l) => l.includes('='))
          .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
      );
    }, ESCAPE_TIMEOUT_MS);

    afterAll(async () => {
      await new Promise((r) => server.close(r));
      fs.rmSync(rootDir, { recursive: true, force: true });
    });

    it('ran the probe', () => {
      expect(facts['capeff'], stderr).toMatch(/^0+$/);
    });

    for (const attempt of [
      'mount',
      'bind-mount',
      'nested-userns',
      'nested-userns-root',
      'netns',
      'lo-down',
      'add-interface',
      'proc-sys-write',
      'sysrq',
      'kvm',
      'block-device-node',
      'host-disk',
      'host-environ',
      'ptrace',
      'keyctl',
      'bpf',
      'userfaultfd',
      'perf_event_open',
      'no-aslr',
      'chroot',
      'host-loopback',
    ]) {
      it(`${attempt} fails`, () => expect(facts[attempt]).toBe('held'));
    }

    it('leaves loopback up for the runtime', () => expect(facts['lo']).toBe('up'));

    it('files the agent creates belong to its unprivileged uid on the host, not to root', () => {
      const st = fs.lstatSync(path.join(rootDir, 'workspace', 'owned-by-agent'));
      expect(st.uid).toBe(hostIds.uid);
      expect(st.gid).toBe(hostIds.gid);
    });
  });
}
