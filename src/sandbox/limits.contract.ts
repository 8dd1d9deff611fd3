// The limits part of the sandbox contract, run against every backend: memory, process and disk bombs are
// contained and reported, a killed sandbox or a killed host leaves no process, cgroup or mount behind.
// A backend without the mechanism for a case skips it visibly, naming why.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { resolveHome } from '../config/home.ts';
import { diskQuotaSupport, prepareAgentVolume, removeAgentVolume } from '../host/agent-volume.ts';
import { parseMountinfo } from '../util/mountinfo.ts';
import { silentLogger } from '../util/log.ts';
import { cgroupDirsOfPid } from './cgroup/detect.ts';
import { CONTRACT_CHILD, hasContractChild } from './testing/contract-child.ts';
import { contractSpec } from './testing/spec.ts';
import type { ContractImage } from './layer.contract.ts';
import type { HostIds, LimitHit, Sandbox, SandboxBackend, SandboxSpec } from './types.ts';
import { DEFAULT_LIMITS, MIB } from './types.ts';

const CASE_BASE_TIMEOUT_MS = 60_000;
const EVENT_WAIT_MS = 20_000;
const POLL_MS = 50;
const SMALL_MEMORY = 64 * MIB;
const SMALL_PIDS = 64;
const SMALL_DISK = 64 * MIB;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function until<T>(
  what: string,
  probe: () => T | undefined | Promise<T | undefined>,
  waitMs = EVENT_WAIT_MS,
): Promise<T> {
  for (let waited = 0; waited < waitMs; waited += POLL_MS) {
    const v = await probe();
    if (v !== undefined) return v;
    await sleep(POLL_MS);
  }
  throw new Error(`timed out waiting for ${what}`);
}

function collect(sandbox: Sandbox): { out: () => string } {
  let out = '';
  sandbox.stdout.on('data', (c: Buffer) => (out += c.toString()));
  sandbox.stderr.on('data', (c: Buffer) => (out += c.toString()));
  return { out: () => out };
}

/** pid plus start time: under a fork bomb pids wrap around quickly and a pid alone may name a newer process */
interface Proc {
  pid: number;
  start: string;
}

function procStat(pid: number): { start: string; zombie: boolean } | undefined {
  try {
    // fields after the command name (which may hold spaces) start at ") "
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { start: rest[19] ?? '', zombie: rest[0] === 'Z' };
  } catch {
    return undefined;
  }
}

const procOf = (pid: number): Proc | undefined => {
  const s = procStat(pid);
  return s === undefined ? undefined : { pid, start: s.start };
};

const alive = (p: Proc): boolean => {
  const s = procStat(p.pid);
  return s !== undefined && s.start === p.start && !s.zombie;
};

/** Everything a running sandbox holds on the host: its processes and its cgroups (not the ones we are in). */
interface Footprint {
  procs: Proc[];
  cgroups: string[];
}

function footprint(pid: number): Footprint {
  const ours = new Set(cgroupDirsOfPid(process.pid));
  const cgroups = cgroupDirsOfPid(pid).filter((d) => !ours.has(d));
  const pids = new Set<number>([pid]);
  for (const d of cgroups)
    for (const p of fs.readFileSync(path.join(d, 'cgroup.procs'), 'utf8').split('\n'))
      if (p !== '') pids.add(Number(p));
  // A listed process may die and its pid go to a host process before we read it: keep only processes that
  // are still in the sandbox's cgroup after their start time was read.
  const name = cgroups[0] === undefined ? undefined : path.basename(cgroups[0]);
  const inSandbox = (p: number): boolean => {
    try {
      return name === undefined || fs.readFileSync(`/proc/${p}/cgroup`, 'utf8').includes(`/${name}\n`);
    } catch {
      return false;
    }
  };
  const procs = [...pids].flatMap((p) => {
    const proc = procOf(p);
    return proc !== undefined && inSandbox(p) && alive(proc) ? [proc] : [];
  });
  return { procs, cgroups };
}

async function expectGone(f: Footprint, parent: string): Promise<void> {
  // killed processes leave their cgroup before they finish exiting: give them a moment
  await until('killed processes to finish exiting', () => (f.procs.some(alive) ? undefined : true)).catch(
    () => undefined,
  );
  expect(f.procs.filter(alive), 'processes left behind').toEqual([]);
  expect(
    f.cgroups.filter((d) => fs.existsSync(d)),
    'cgroups left behind',
  ).toEqual([]);
  const real = fs.realpathSync(parent);
  const mounts = parseMountinfo(fs.readFileSync('/proc/self/mountinfo', 'utf8')).filter((m) =>
    m.mountPoint.startsWith(real + '/'),
  );
  expect(mounts, 'mounts left behind').toEqual([]);
}

export interface LimitsContractOptions {
  hostIds: HostIds | undefined;
  /** a base image: every sandbox's / is then a fresh agent layer over it (in the sandbox's own directory) */
  image?: ContractImage;
  /** further spec fields a backend needs */
  spec?: (dir: string) => Partial<SandboxSpec>;
  /** multiplies the time each case and each wait may take, for backends that boot slowly (a VM under emulation) */
  timeoutScale?: number;
}

export function runLimitsContract(
  name: string,
  makeBackend: () => SandboxBackend,
  opts: LimitsContractOptions,
): void {
  const notes = makeBackend().limitNotes?.() ?? {};
  const skip = (reason: string | undefined): string => (reason === undefined ? '' : ` (skipped: ${reason})`);
  const quota = diskQuotaSupport(process.getuid?.() === 0);
  const scale = opts.timeoutScale ?? 1;
  const CASE_TIMEOUT_MS = CASE_BASE_TIMEOUT_MS * scale;
  const waitFor = <T>(what: string, probe: () => T | undefined | Promise<T | undefined>): Promise<T> =>
    until(what, probe, EVENT_WAIT_MS * scale);

  describe(`SandboxBackend limits: ${name}`, () => {
    let parent = '';
    const running: Sandbox[] = [];
    beforeEach(() => {
      parent = fs.mkdtempSync(path.join(os.tmpdir(), 'corral-limits-'));
      fs.chmodSync(parent, 0o711);
    });
    afterEach(async () => {
      await Promise.all(running.splice(0).map((s) => s.stop()));
      await makeBackend().reap?.(parent);
      const home = resolveHome({ CORRAL_HOME: parent });
      if (fs.existsSync(home.dataDir)) await removeAgentVolume(home, 'contract');
      fs.rmSync(parent, { recursive: true, force: true });
    });

    let n = 0;
    const extra = (dir: string): Partial<SandboxSpec> => ({
      ...(opts.image && {
        root: { imageDir: opts.image.dir, imageId: opts.image.id, layerDir: path.join(dir, 'layer') },
      }),
      ...opts.spec?.(dir),
    });
    const spec = (command: string[], over: Partial<SandboxSpec> = {}): SandboxSpec => {
      const dir = path.join(parent, `sb${++n}`);
      return contractSpec(dir, opts.hostIds, command, { ...extra(dir), ...over });
    };
    const start = async (s: SandboxSpec): Promise<Sandbox> => {
      const sandbox = await makeBackend().start(s);
      running.push(sandbox);
      return sandbox;
    };
    const waitForHit = (sandbox: Sandbox, limit: LimitHit['limit']): Promise<LimitHit> => {
      const seen: LimitHit[] = [];
      return waitFor(`a ${limit} limit event`, async () => {
        seen.push(...((await sandbox.limitEvents?.()) ?? []));
        return seen.find((h) => h.limit === limit);
      });
    };

    it(
      'says how each limit is applied',
      async () => {
        const sandbox = await start(spec(['/bin/true']));
        await sandbox.exited;
        const applied = sandbox.appliedLimits;
        expect(applied).toBeDefined();
        for (const limit of ['memoryBytes', 'cpus', 'maxProcesses'] as const)
          if (notes[limit] === undefined) expect(applied?.[limit], limit).not.toBe('none');
        expect(applied?.maxOpenFiles).not.toBe('none');
      },
      CASE_TIMEOUT_MS,
    );

    it.skipIf(notes.memoryBytes !== undefined)(
      `a memory bomb is killed and reported; the sandbox goes on${skip(notes.memoryBytes)}`,
      async () => {
        const sandbox = await start(
          // ulimit -v: a backend that claims a memory cgroup it does not apply fails here instead of eating the host
          spec(['/bin/sh', '-c', 'ulimit -v 1048576; tail -n1 /dev/zero; echo "status=$?"; echo alive'], {
            limits: { ...DEFAULT_LIMITS, memoryBytes: SMALL_MEMORY },
          }),
        );
        const r = collect(sandbox);
        const exit = await sandbox.exited;
        expect(exit.code).toBe(0);
        expect(r.out()).toMatch(/status=137\nalive\n/);
        const hits = (await sandbox.limitEvents?.()) ?? [];
        expect(hits.find((h) => h.limit === 'memoryBytes')?.message).toBe(
          'memory limit 64 MiB reached; the process was stopped',
        );
      },
      CASE_TIMEOUT_MS,
    );

    it.skipIf(notes.memoryBytes !== undefined)(
      `a sandbox whose main process runs out of memory ends with limitHit${skip(notes.memoryBytes)}`,
      async () => {
        const sandbox = await start(
          spec(['/bin/sh', '-c', 'ulimit -v 1048576; exec tail -n1 /dev/zero'], {
            limits: { ...DEFAULT_LIMITS, memoryBytes: SMALL_MEMORY },
          }),
        );
        const exit = await sandbox.exited;
        expect(exit.limitHit?.limit).toBe('memoryBytes');
      },
      CASE_TIMEOUT_MS,
    );

    it.skipIf(notes.maxProcesses !== undefined)(
      `a fork bomb is held at the process limit, the host is unharmed and stop() still works${skip(notes.maxProcesses)}`,
      async () => {
        const sandbox = await start(
          // the main shell then waits with builtins only: it needs no new process to stay alive
          spec(['/bin/bash', '-c', 'echo started; f() { f | f & }; f; while :; do read -r -t 1 _; done'], {
            limits: { ...DEFAULT_LIMITS, maxProcesses: SMALL_PIDS },
          }),
        );
        collect(sandbox);
        const hit = await waitForHit(sandbox, 'maxProcesses');
        expect(hit.message).toBe(`process limit ${SMALL_PIDS} reached; new processes were refused`);
        const f = sandbox.pid === undefined ? undefined : footprint(sandbox.pid);
        if (f !== undefined) expect(f.procs.length).toBeLessThanOrEqual(SMALL_PIDS + 2);
        expect(spawnSync('/bin/true').status, 'the host can still start processes').toBe(0);
        await sandbox.stop();
        if (f !== undefined) await expectGone(f, parent);
      },
      CASE_TIMEOUT_MS,
    );

    it(
      `a disk fill of the workspace stops at the ${quota.mechanism === 'quota' ? 'volume size (ENOSPC), reported' : 'file size limit (EFBIG)'}`,
      async () => {
        const limits = { ...DEFAULT_LIMITS, diskBytes: SMALL_DISK, maxFileBytes: SMALL_DISK };
        let over: Partial<SandboxSpec> = { limits };
        if (quota.mechanism === 'quota') {
          const home = resolveHome({ CORRAL_HOME: parent });
          const v = await prepareAgentVolume(home, 'contract', SMALL_DISK, {
            ids: opts.hostIds,
            isRoot: true,
            log: silentLogger,
          });
          over = { ...over, workspaceDir: v.workspaceDir, diskQuota: true };
        }
        const s = spec(
          ['/bin/sh', '-c', 'dd if=/dev/zero of=/workspace/fill bs=1M count=128 2>&1; echo "status=$?"'],
          over,
        );
        const sandbox = await start(s);
        const r = collect(sandbox);
        await sandbox.exited;
        if (quota.mechanism === 'quota') {
          expect(r.out()).toContain('No space left on device');
          const hits = (await sandbox.limitEvents?.()) ?? [];
          expect(hits.map((h) => h.message)).toContain(
            'disk limit 64 MiB reached; writes fail until files are removed',
          );
        } else {
          expect(r.out()).toMatch(/status=153|File too large/); // SIGXFSZ or EFBIG at the file size limit
        }
        expect(fs.statSync(path.join(s.workspaceDir, 'fill')).size).toBeLessThanOrEqual(SMALL_DISK);
      },
      CASE_TIMEOUT_MS,
    );

    it(
      'a sandbox killed from outside is noticed through exited and leaves nothing behind',
      async (ctx) => {
        const sandbox = await start(spec(['/bin/sh', '-c', 'sleep 300 & echo started; wait']));
        const r = collect(sandbox);
        await waitFor('the sandbox to start', () => (r.out().includes('started') ? true : undefined));
        if (sandbox.pid === undefined) return ctx.skip('the backend does not expose the pid of its sandbox');
        const f = footprint(sandbox.pid);
        process.kill(sandbox.pid, 'SIGKILL');
        const exit = await sandbox.exited;
        expect(exit.signal === 'SIGKILL' || exit.code !== 0).toBe(true);
        await sandbox.stop();
        await expectGone(f, parent);
      },
      CASE_TIMEOUT_MS,
    );

    it.skipIf(!hasContractChild(name))(
      `after the starting process is killed, reap() removes what it left, and only that${skip(hasContractChild(name) ? undefined : 'no child-process factory in testing/contract-child.ts')}`,
      async () => {
        const uid = opts.hostIds === undefined ? '-' : String(opts.hostIds.uid);
        const dir = path.join(parent, 'killed-host');
        const command = ['/bin/sh', '-c', 'sleep 300 & echo started; wait'];
        const image = opts.image === undefined ? ['-', '-'] : [opts.image.dir, opts.image.id];
        const args = [CONTRACT_CHILD, name, parent, dir, uid, ...image, ...command];
        const child = spawn(process.execPath, ['--import', 'tsx', ...args], {
          stdio: ['ignore', 'pipe', 'inherit'],
        });
        let line = '';
        child.stdout.on('data', (c: Buffer) => (line += c.toString()));
        const pid = await waitFor('the child to start its sandbox', () => {
          const m = /started (\d+)/.exec(line);
          return m === null ? undefined : Number(m[1]);
        });
        const f = footprint(pid);
        // a sandbox of another run directory, which reap(parent) must leave alone
        const otherParent = fs.mkdtempSync(path.join(os.tmpdir(), 'corral-limits-other-'));
        try {
          fs.chmodSync(otherParent, 0o711);
          const dirOther = path.join(otherParent, 'sb');
          const other = await start(contractSpec(dirOther, opts.hostIds, command, extra(dirOther)));
          const otherOut = collect(other);
          await waitFor('the other sandbox to start', () =>
            otherOut.out().includes('started') ? true : undefined,
          );
          child.kill('SIGKILL');
          await new Promise((r) => child.once('exit', r));
          await makeBackend().reap?.(parent);
          await expectGone(f, parent);
          expect(
            other.pid !== undefined && procOf(other.pid) !== undefined,
            "the other run directory's sandbox survives",
          ).toBe(true);
          await other.stop();
          await makeBackend().reap?.(otherParent);
        } finally {
          fs.rmSync(otherParent, { recursive: true, force: true });
        }
      },
      CASE_TIMEOUT_MS,
    );
  });
}
