// What the contract cannot see of a microVM: its size and kernel, QEMU's own confinement, the gateway over a
// virtio-serial port, the isolation self-test, and what a killed corral leaves. Four VM boots in all (TCG boots
// are slow).
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { testImageCache } from '../../../test/fixtures/base-image.ts';
import { microvmBlocker, testKernelDir, testVmCache } from '../../../test/fixtures/microvm.ts';
import { silentLogger } from '../../util/log.ts';
import { findBaseImage } from '../image/index.ts';
import { selfTest } from '../self-test.ts';
import type { HostIds, Sandbox, SandboxSpec } from '../types.ts';
import { DEFAULT_LIMITS, MIB } from '../types.ts';
import { VM_OVERHEAD_MIB } from './argv.ts';
import { createMicrovmBackend } from './backend.ts';
import { findKernel } from './kernel.ts';
import type { VmState } from './state.ts';
import { readState, vmsDir } from './state.ts';
import { killHolder, startHolder } from '../../../test/fixtures/holder.ts';

const image = findBaseImage(testImageCache());
const blocker = image === undefined ? 'no base image in the test cache' : microvmBlocker();
const isRoot = process.getuid?.() === 0;
const ids: HostIds | undefined = isRoot ? { uid: 1_500_000_940, gid: 1_500_000_940 } : undefined;
/** a TCG boot on a busy 2-core host takes tens of seconds */
const VM_TIMEOUT_MS = 240_000;

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'corral-vm-test-'));
fs.chmodSync(tmp, 0o711);
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
const runDir = path.join(tmp, 'run');

function agentDirs(name: string): { dir: string; layerDir: string } {
  const dir = path.join(tmp, name);
  for (const d of ['workspace', 'runtime', 'gw', 'etc'])
    fs.mkdirSync(path.join(dir, d), { recursive: true, mode: 0o755 });
  fs.chmodSync(dir, 0o711);
  if (ids !== undefined) fs.chownSync(path.join(dir, 'workspace'), ids.uid, ids.gid);
  return { dir, layerDir: path.join(dir, 'layer') };
}

function spec(name: string, command: string, over: Partial<SandboxSpec> = {}): SandboxSpec {
  const { dir, layerDir } = agentDirs(name);
  return {
    sandboxId: `vmtest-${name}`,
    agent: name,
    workspaceDir: path.join(dir, 'workspace'),
    runtimeDir: path.join(dir, 'runtime'),
    gatewayDir: path.join(dir, 'gw'),
    etcDir: path.join(dir, 'etc'),
    root: { imageDir: image?.rootfs ?? '', imageId: image?.id ?? '', layerDir },
    hostIds: ids,
    env: { PATH: '/usr/bin:/bin' },
    limits: DEFAULT_LIMITS,
    extraReadOnly: [],
    command: ['/bin/sh', '-c', command],
    ...over,
  };
}

function stateOf(name: string): VmState {
  const state = readState(path.join(vmsDir(runDir), name));
  if (state === undefined) throw new Error(`no state for VM ${name}`);
  return state;
}

/** `name=value` lines */
function factsOf(out: string): Record<string, string> {
  const facts: Record<string, string> = {};
  for (const line of out.trim().split('\n')) {
    const i = line.indexOf('=');
    if (i > 0) facts[line.slice(0, i)] = line.slice(i + 1);
  }
  return facts;
}

async function output(sandbox: Sandbox): Promise<{ out: string; err: string; code: number | null }> {
  let out = '';
  let err = '';
  sandbox.stdout.on('data', (c: Buffer) => (out += c.toString()));
  sandbox.stderr.on('data', (c: Buffer) => (err += c.toString()));
  return { ...(await sandbox.exited), out, err };
}

/** Uid, seccomp mode, no_new_privs and effective capabilities of a process, from /proc/PID/status. */
function confinement(pid: number | undefined): Record<string, string> {
  const status = fs.readFileSync(`/proc/${String(pid)}/status`, 'utf8');
  const field = (k: string): string => new RegExp(`^${k}:\\s*(\\S+)`, 'm').exec(status)?.[1] ?? '?';
  return { uid: field('Uid'), seccomp: field('Seccomp'), nnp: field('NoNewPrivs'), capeff: field('CapEff') };
}

describe.skipIf(blocker !== undefined)(
  `microvm VM${blocker === undefined ? '' : ` (skipped: ${blocker})`}`,
  () => {
    const backend = createMicrovmBackend({
      log: silentLogger,
      runDir,
      cacheDir: testVmCache(),
      kernel: testKernelDir(),
    });

    it(
      "boots its own kernel at the agent's size, with no network device, the gateway over a port, QEMU confined",
      async () => {
        const s = spec(
          'sized',
          [
            'echo "mem=$(sed -n "s/^MemTotal: *\\([0-9]*\\) kB/\\1/p" /proc/meminfo)"',
            'echo "cpus=$(nproc)"',
            // the agent sees its own cgroup, read-only, where the cgroup file system usually is
            'cg=/sys/fs/cgroup',
            'echo "pids=$(cat $cg/pids.max)"',
            'echo "memmax=$(cat $cg/memory.max)"',
            'echo "net=$(ls /sys/class/net | tr "\\n" ,)"',
            'echo "kernel=$(uname -r)"',
            'echo "gw=$(curl -s --unix-socket /run/corral/gateway.sock http://gateway/ping)"',
          ].join('\n'),
          { limits: { ...DEFAULT_LIMITS, memoryBytes: 384 * MIB, cpus: 2, maxProcesses: 100 } },
        );
        const seen: string[] = [];
        const gateway = http.createServer((req, res) => {
          seen.push(`${req.method ?? ''} ${req.url ?? ''}`);
          res.end('pong');
        });
        const socket = path.join(s.gatewayDir, 'gateway.sock');
        await new Promise<void>((r) => gateway.listen(socket, r));
        try {
          const sandbox = await backend.start(s);
          const result = output(sandbox);
          await new Promise((r) => sandbox.stdout.once('data', r));
          const qemu = confinement(stateOf(s.sandboxId).qemu?.pid);
          const r = await result;
          expect(r.err).toBe('');
          const facts = factsOf(r.out);
          // the VM holds the agent's 384 MiB (its cgroup) plus the guest's own
          expect(facts['memmax']).toBe(String(384 * MIB));
          expect(Number(facts['mem'])).toBeGreaterThan(384 * 1024);
          expect(Number(facts['mem'])).toBeLessThanOrEqual((384 + VM_OVERHEAD_MIB) * 1024);
          expect(facts['cpus']).toBe('2');
          expect(facts['pids']).toBe('100');
          expect(facts['net']).toBe('lo,');
          expect(facts['kernel']).toBe(findKernel(testKernelDir())?.version);
          expect(facts['kernel']).not.toBe(os.release());
          expect(facts['gw']).toBe('pong');
          expect(seen).toEqual(['GET /ping']);
          expect(qemu).toEqual({
            uid: String(ids?.uid ?? process.getuid?.()),
            seccomp: '2',
            nnp: '1',
            capeff: '0000000000000000',
          });
          expect(r.code).toBe(0);
        } finally {
          await new Promise((r) => gateway.close(r));
        }
      },
      VM_TIMEOUT_MS,
    );

    it(
      "passes the host's isolation self-test, judged as a VM with a kernel of its own",
      async () => {
        const result = await selfTest(backend, {
          hostIds: ids,
          scratchDir: tmp,
          image: { dir: image?.rootfs ?? '', id: image?.id ?? '' },
        });
        expect(result.failures).toEqual([]);
        // root of its own kernel, yet with no capability: the guest init drops them all before the command
        expect(result.facts['capeff']).toMatch(/^0+$/);
        expect(result.ok).toBe(true);
      },
      VM_TIMEOUT_MS,
    );

    it(
      'a killed corral leaves no VM process; reap clears its run directory and the agent disk boots again',
      async () => {
        const s = spec('crash', '');
        const holder = await startHolder({
          backend: 'microvm',
          runDir,
          cacheDir: testVmCache(),
          kernel: testKernelDir(),
          dir: path.dirname(s.workspaceDir),
          imageDir: image?.rootfs,
          imageId: image?.id,
          layerDir: s.root?.layerDir,
          hostIds: ids,
          script: 'echo kept > /root/before-crash && sync && echo up && sleep 300',
        });
        const state = stateOf('held');
        const qemuPid = state.qemu?.pid ?? 0;
        const fsdPid = state.virtiofsd?.pid ?? 0;
        await killHolder(holder);
        // QEMU and virtiofsd die with their corral (parent-death signal)
        const until = Date.now() + 10_000;
        const gone = (pid: number): boolean => !fs.existsSync(`/proc/${pid}`);
        while (!(gone(qemuPid) && gone(fsdPid)) && Date.now() < until) {
          await new Promise((r) => setTimeout(r, 100));
        }
        expect([qemuPid > 0, gone(qemuPid), fsdPid > 0, gone(fsdPid)]).toEqual([true, true, true, true]);
        expect(await backend.reap?.(runDir)).toEqual(['run directory of VM held']);
        expect(fs.existsSync(path.join(vmsDir(runDir), 'held'))).toBe(false);
        const again = await output(
          await backend.start({ ...s, command: ['/bin/sh', '-c', 'cat /root/before-crash'] }),
        );
        expect(again.out).toBe('kept\n');
      },
      VM_TIMEOUT_MS,
    );
  },
);
