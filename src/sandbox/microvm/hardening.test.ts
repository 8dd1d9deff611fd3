// Inside a real microVM, from the agent's side: the guest's init leaves it root of its world for files but with
// no capability, so it cannot load a module, change the kernel's settings or mounts, make or reach the VM's
// devices (the host's control and gateway ports among them), or read the init's memory and descriptors.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { testImageCache } from '../../../test/fixtures/base-image.ts';
import { microvmBlocker, microvmTestOptions } from '../../../test/fixtures/microvm.ts';
import { silentLogger } from '../../util/log.ts';
import { findBaseImage } from '../image/index.ts';
import { DEFAULT_LIMITS } from '../types.ts';
import { createMicrovmBackend } from './backend.ts';

const image = findBaseImage(testImageCache());
const blocker = image === undefined ? 'no base image in the test cache' : microvmBlocker();
const isRoot = process.getuid?.() === 0;
const BOOT_TIMEOUT_MS = 180_000;

/** Each line `name=value`; the test judges the values, so nothing inside decides what passed. */
const PY_SYSCALLS = `
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
def errno(ret):
    return 'ok' if ret == 0 else os.strerror(ctypes.get_errno())
print('init_module=' + errno(libc.syscall(175, None, 0, b'')))
print('remount_root=' + errno(libc.mount(None, b'/', None, 32, None)))
print('remount_procsys=' + errno(libc.mount(None, b'/proc/sys', None, 32 | 4096, None)))
print('umount_sys=' + errno(libc.umount2(b'/sys', 2)))
print('unshare_user=' + errno(libc.unshare(0x10000000)))
`;

const SCRIPT = [
  'grep -E "^(CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs):" /proc/self/status | tr -d "\\t" | tr : =',
  'echo "uid=$(id -u)"',
  `python3 -c "${PY_SYSCALLS.replaceAll('"', '\\"')}"`,
  'echo 1 2>/dev/null > /proc/sys/kernel/sysrq && echo sysctl=written || echo sysctl=refused',
  'echo 1 2>/dev/null > /sys/fs/cgroup/cgroup.kill && echo cgroupkill=written || echo cgroupkill=refused',
  'echo 100000 2>/dev/null > /sys/fs/cgroup/pids.max && echo pidsmax=written || echo pidsmax=refused',
  'echo "pidsmax_reads=$(cat /sys/fs/cgroup/pids.max)"',
  'echo "devices=$(ls /dev | tr "\\n" ,)"',
  // the control port is still a device of the VM's: its numbers are in sysfs, a node for it cannot be made
  'ctl=$(for d in /sys/class/virtio-ports/*; do [ "$(cat $d/name)" = corral.ctl ] && cat $d/dev; done)',
  'echo "ctl_known=$([ -n "$ctl" ] && echo yes || echo no)"',
  'mknod /tmp/ctl c ${ctl%%:*} ${ctl##*:} 2>/dev/null && echo mknod_ctl=made || echo mknod_ctl=refused',
  'echo "vmdev=$(ls -A /run/corral-vm/dev 2>&1 | tr "\\n" ,)"',
  'head -c1 /proc/1/mem >/dev/null 2>&1 && echo init_mem=read || echo init_mem=refused',
  // its descriptors' numbers are listed (by file mode), where they lead is refused (by the ptrace check)
  'readlink /proc/1/fd/3 >/dev/null 2>&1 && echo init_fd=followed || echo init_fd=refused',
  'head -c1 /proc/1/environ >/dev/null 2>&1 && echo init_environ=read || echo init_environ=refused',
  // its own pid namespace: none of the init's processes (stage 2, its stop watcher, the relay) is visible
  // (names put together, and listed before grep runs, so that no command line of the check holds them)
  'all=$(for p in /proc/[0-9]*; do tr "\\0" " " < $p/cmdline; echo; done)',
  's=stage r=relay; echo "procs=$(echo "$all" | grep -c -e "${s}2" -e "$r.mjs")"',
  'echo "pid1=$(tr "\\0" " " < /proc/1/cmdline)"',
  // still root of its own files: it writes the system directories of its layer
  'echo hi > /usr/local/probe && echo layer=writable || echo layer=readonly',
].join('\n');

function facts(out: string): Record<string, string> {
  const f: Record<string, string> = {};
  for (const line of out.split('\n')) {
    const i = line.indexOf('=');
    if (i > 0) f[line.slice(0, i)] = line.slice(i + 1);
  }
  return f;
}

describe.skipIf(blocker !== undefined)(
  `microvm guest hardening${blocker === undefined ? '' : ` (skipped: ${blocker})`}`,
  () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'corral-vmharden-'));
    fs.chmodSync(root, 0o711);
    afterAll(() => fs.rmSync(root, { recursive: true, force: true }));
    const ids = isRoot ? { uid: 1_500_000_970, gid: 1_500_000_970 } : undefined;

    it(
      'leaves the agent no capability and none of the init’s devices, settings or memory',
      async () => {
        const backend = createMicrovmBackend({
          log: silentLogger,
          runDir: path.join(root, 'run'),
          ...microvmTestOptions(),
        });
        const dirs = ['workspace', 'runtime', 'gw', 'etc'].map((d) => path.join(root, d));
        for (const d of dirs) fs.mkdirSync(d, { mode: 0o755 });
        const [workspaceDir = '', runtimeDir = '', gatewayDir = '', etcDir = ''] = dirs;
        if (ids !== undefined) fs.chownSync(workspaceDir, ids.uid, ids.gid);
        const sandbox = await backend.start({
          sandboxId: path.basename(root),
          agent: 'harden',
          workspaceDir,
          runtimeDir,
          gatewayDir,
          etcDir,
          root: {
            imageDir: image?.rootfs ?? '',
            imageId: image?.id ?? '',
            layerDir: path.join(root, 'layer'),
          },
          hostIds: ids,
          env: { PATH: '/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin' },
          limits: DEFAULT_LIMITS,
          extraReadOnly: [],
          command: ['/bin/sh', '-c', SCRIPT],
        });
        let out = '';
        let err = '';
        sandbox.stdout.on('data', (c: Buffer) => (out += c.toString()));
        sandbox.stderr.on('data', (c: Buffer) => (err += c.toString()));
        const exit = await sandbox.exited;
        expect(exit.code, err).toBe(0);
        const f = facts(out);
        for (const set of ['CapInh', 'CapPrm', 'CapEff', 'CapBnd', 'CapAmb'])
          expect(f[set], set).toBe('0'.repeat(16));
        expect(f).toMatchObject({
          NoNewPrivs: '1',
          uid: '0',
          init_module: 'Operation not permitted',
          remount_root: 'Operation not permitted',
          remount_procsys: 'Operation not permitted',
          umount_sys: 'Operation not permitted',
          sysctl: 'refused',
          cgroupkill: 'refused',
          pidsmax: 'refused',
          pidsmax_reads: String(DEFAULT_LIMITS.maxProcesses),
          devices: 'fd,full,null,ptmx,pts,random,shm,stderr,stdin,stdout,tty,urandom,zero,',
          ctl_known: 'yes',
          mknod_ctl: 'refused',
          vmdev: '',
          init_mem: 'refused',
          init_fd: 'refused',
          init_environ: 'refused',
          layer: 'writable',
          procs: '0',
          pid1: '/run/corral-vm/busybox sh /run/corral-vm/enter ',
          // no user namespace either: a new one would hand it a full capability set again
          unshare_user: 'No space left on device',
        });
      },
      BOOT_TIMEOUT_MS,
    );
  },
);
