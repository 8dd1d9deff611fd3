// The limits part of the sandbox contract, run against every backend: memory, process and disk bombs are
// contained and reported, a killed sandbox or a killed host leaves no process, cgroup or mount behind.
// A backend without the mechanism for a case skips it visibly, naming why.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { HomePaths } from '../config/home.ts';
import { resolveHome } from '../config/home.ts';
import {
  diskQuotaSupport,
  prepareAgentVolume,
  removeAgentVolume,
  unmountAgentVolume,
} from '../host/agent-volume.ts';
import { parseMountinfo } from '../util/mountinfo.ts';
import { silentLogger } from '../util/log.ts';
import { CONTRACT_CHILD, hasContractChild } from './testing/contract-child.ts';
import type { Footprint } from './testing/footprint.ts';
import { alive, footprint, procOf } from './testing/footprint.ts';
import { attachedLoops, otherMountNamespace } from './testing/mount-namespace.ts';
import { contractSpec } from './testing/spec.ts';
import type { ContractImage } from './layer.contract.ts';
import type { HostIds, LimitHit, Sandbox, SandboxBackend, SandboxLimits, SandboxSpec } from './types.ts';
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
  /**
   * chmod o+x the directories above the agent volume's workspace, as an operator must for gVisor through Docker
   * (its file proxy opens mount sources as the remapped uid)
   */
  searchableVolume?: boolean;
  /** multiplies the time each case and each wait may take, for backends that boot slowly (a VM under emulation) */
  timeoutScale?: number;
}

export function runLimitsContract(
  name: string,
  makeBackend: () => SandboxBackend,
  opts: LimitsContractOptions,
): void {
  const probeBackend = makeBackend();
  const notes = probeBackend.limitNotes?.() ?? {};
  const behaviour = probeBackend.limitBehaviour ?? {};
  const memoryEndsSandbox = behaviour.memoryHitEnds === 'sandbox';
  const forksReported = behaviour.processHitsReported !== false;
  const skip = (reason: string | undefined): string => (reason === undefined ? '' : ` (skipped: ${reason})`);
  const quota = diskQuotaSupport(process.getuid?.() === 0);
  const scale = opts.timeoutScale ?? 1;
  const CASE_TIMEOUT_MS = CASE_BASE_TIMEOUT_MS * scale;
  const waitFor = <T>(what: string, probe: () => T | undefined | Promise<T | undefined>): Promise<T> =>
    until(what, probe, EVENT_WAIT_MS * scale);
  // a note that no mechanism exists here at all (an ordinary user has no cgroup to write): a visible skip. A note
  // about a different behaviour (limitBehaviour) is not a skip: the case checks that behaviour instead.
  const absent = (limit: keyof SandboxLimits, differs: boolean): string | undefined =>
    differs ? undefined : notes[limit];
  // gVisor's sentry (~40 MiB) counts against its limit: give it room to boot
  const bombMemory = memoryEndsSandbox ? SMALL_MEMORY * 2 : SMALL_MEMORY;

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

    /** The agent's volume of SMALL_DISK, as the host prepares it (quota hosts only). */
    const smallVolume = async (): Promise<{ home: HomePaths; workspaceDir: string; image: string }> => {
      const home = resolveHome({ CORRAL_HOME: parent });
      const v = await prepareAgentVolume(home, 'contract', SMALL_DISK, {
        ids: opts.hostIds,
        isRoot: true,
        log: silentLogger,
      });
      if (opts.searchableVolume === true)
        for (let d = path.dirname(v.workspaceDir); d.startsWith(parent); d = path.dirname(d))
          fs.chmodSync(d, fs.statSync(d).mode | 0o001);
      return {
        home,
        workspaceDir: v.workspaceDir,
        image: path.join(fs.realpathSync(home.dataDir), 'contract.ext4'),
      };
    };

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
      'says how each limit is applied, and explains every limit kept weaker or differently',
      async () => {
        const sandbox = await start(spec(['/bin/true']));
        await sandbox.exited;
        const applied = sandbox.appliedLimits;
        expect(applied).toBeDefined();
        for (const limit of ['memoryBytes', 'cpus', 'maxProcesses'] as const)
          if (notes[limit] === undefined) expect(applied?.[limit], limit).not.toBe('none');
        expect(applied?.maxOpenFiles).not.toBe('none');
        // honest reports: a limit not in force, or one that behaves differently, is explained for `corral doctor`
        for (const [limit, how] of Object.entries(applied ?? {}))
          if (how === 'none') expect(notes, `why ${limit} is not in force`).toHaveProperty(limit);
        if (memoryEndsSandbox)
          expect(notes.memoryBytes, 'why a memory hit ends the sandbox').toMatch(/sandbox/);
        if (!forksReported)
          expect(notes.maxProcesses, 'why refused forks are not reported').toMatch(/report/);
      },
      CASE_TIMEOUT_MS,
    );

    // where a memory hit ends the whole sandbox (declared in limitBehaviour) this case does not apply: the next
    // case checks that behaviour instead, so it is not registered rather than shown as a skip
    if (!memoryEndsSandbox)
      it.skipIf(absent('memoryBytes', memoryEndsSandbox) !== undefined)(
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

    it.skipIf(absent('memoryBytes', memoryEndsSandbox) !== undefined)(
      `a sandbox whose main process runs out of memory ends with limitHit${memoryEndsSandbox ? ' (here any memory hit ends the sandbox, as its notes say)' : ''}${skip(absent('memoryBytes', memoryEndsSandbox))}`,
      async () => {
        // where the whole sandbox ends, a bomb in a child process ends it too: the shell never says "survived"
        const script = memoryEndsSandbox
          ? 'ulimit -v 1048576; tail -n1 /dev/zero; echo survived'
          : 'ulimit -v 1048576; exec tail -n1 /dev/zero';
        const sandbox = await start(
          spec(['/bin/sh', '-c', script], { limits: { ...DEFAULT_LIMITS, memoryBytes: bombMemory } }),
        );
        const r = collect(sandbox);
        const exit = await sandbox.exited;
        expect(exit.limitHit?.limit).toBe('memoryBytes');
        if (memoryEndsSandbox) {
          expect(r.out()).not.toContain('survived');
          expect(exit.limitHit?.message).toBe('memory limit 128 MiB reached; the sandbox was stopped');
        }
      },
      CASE_TIMEOUT_MS,
    );

    it.skipIf(absent('maxProcesses', !forksReported) !== undefined)(
      `a fork bomb is held at the process limit${forksReported ? ' and reported' : ' (counted from inside: the refusals are not reported here)'}, the host is unharmed and stop() still works${skip(absent('maxProcesses', !forksReported))}`,
      async () => {
        const sandbox = await start(
          // the main shell then waits and counts with builtins only: it needs no new process to stay alive
          spec(
            [
              '/bin/bash',
              '-c',
              // counts the processes in the shell's own cgroup: a VM's /proc also lists its kernel's threads
              'mine=; read -r mine < /proc/self/cgroup; echo started; f() { f | f & }; f; ' +
                'while :; do c=0; for p in /proc/[0-9]*; do l=; read -r l < "$p/cgroup"; [ "$l" = "$mine" ] && c=$((c+1)); done 2>/dev/null; echo "count $c"; read -r -t 1 _; done',
            ],
            { limits: { ...DEFAULT_LIMITS, maxProcesses: SMALL_PIDS } },
          ),
        );
        const r = collect(sandbox);
        if (forksReported) {
          const hit = await waitForHit(sandbox, 'maxProcesses');
          expect(hit.message).toBe(`process limit ${SMALL_PIDS} reached; new processes were refused`);
        }
        // seen from inside: the bomb reached the limit and stayed under it
        const counts = (): number[] => [...r.out().matchAll(/count (\d+)/g)].map((m) => Number(m[1]));
        await waitFor('the bomb to fill the process table', () =>
          counts().some((c) => c >= SMALL_PIDS / 2) && counts().length >= 3 ? true : undefined,
        );
        expect(Math.max(...counts()), r.out().slice(-500)).toBeLessThanOrEqual(SMALL_PIDS);
        const f = sandbox.pid === undefined ? undefined : footprint(sandbox.pid);
        if (f !== undefined && !memoryEndsSandbox) expect(f.procs.length).toBeLessThanOrEqual(SMALL_PIDS + 2);
        expect(spawnSync('/bin/true').status, 'the host can still start processes').toBe(0);
        await sandbox.stop();
        if (f !== undefined) await expectGone(f, parent);
      },
      CASE_TIMEOUT_MS,
    );

    it(
      'open files stop at the open-file limit (EMFILE), which reads back inside',
      async () => {
        const sandbox = await start(
          spec(
            [
              '/bin/bash',
              '-c',
              'echo "nofile=$(ulimit -n)"; i=0; while exec {fd}>/dev/null; do i=$((i+1)); done 2>/tmp/err; echo "opened=$i"; cat /tmp/err',
            ],
            { limits: { ...DEFAULT_LIMITS, maxOpenFiles: 64 } },
          ),
        );
        const r = collect(sandbox);
        const exit = await sandbox.exited;
        expect(exit.code, r.out()).toBe(0);
        expect(r.out()).toContain('nofile=64\n');
        const opened = Number(/opened=(\d+)/.exec(r.out())?.[1]);
        expect(opened).toBeGreaterThan(32);
        expect(opened).toBeLessThan(64);
        expect(r.out()).toMatch(/Too many open files/);
      },
      CASE_TIMEOUT_MS,
    );

    it(
      'a file grows no larger than the file size limit',
      async () => {
        const s = spec(['/bin/sh', '-c', 'head -c 3000000 /dev/zero > /workspace/big; echo "status=$?"'], {
          limits: { ...DEFAULT_LIMITS, maxFileBytes: MIB },
        });
        const sandbox = await start(s);
        const r = collect(sandbox);
        await sandbox.exited;
        expect(r.out()).toMatch(/status=(153|1)\n/); // SIGXFSZ, or EFBIG where the signal is ignored
        expect(fs.statSync(path.join(s.workspaceDir, 'big')).size).toBeLessThanOrEqual(MIB);
      },
      CASE_TIMEOUT_MS,
    );

    it(
      'stop() kills every process inside and leaves nothing behind',
      async () => {
        const sandbox = await start(
          spec(['/bin/sh', '-c', 'for i in 1 2 3 4 5 6; do sleep 300 & done; echo started; wait']),
        );
        const r = collect(sandbox);
        await waitFor('the sandbox to start', () => (r.out().includes('started') ? true : undefined));
        expect(sandbox.pid, 'the pid whose death ends the sandbox').toBeDefined();
        const f = footprint(sandbox.pid ?? 0);
        expect(f.procs.length, 'the sandbox is seen on the host').toBeGreaterThan(0);
        await sandbox.stop();
        const exit = await sandbox.exited;
        expect(
          exit.code === 0 && exit.signal === null,
          'stop() ended the sleeps, not their natural end',
        ).toBe(false);
        await expectGone(f, parent);
      },
      CASE_TIMEOUT_MS,
    );

    it(
      `a disk fill of the workspace stops at the ${quota.mechanism === 'quota' ? 'volume size (ENOSPC), reported' : 'file size limit (EFBIG)'}`,
      async () => {
        const limits = { ...DEFAULT_LIMITS, diskBytes: SMALL_DISK, maxFileBytes: SMALL_DISK };
        let over: Partial<SandboxSpec> = { limits };
        if (quota.mechanism === 'quota')
          over = { ...over, workspaceDir: (await smallVolume()).workspaceDir, diskQuota: true };
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

    it.skipIf(quota.mechanism !== 'quota')(
      `once stopped, nothing keeps the agent's volume: unmounting it frees its loop device${skip(quota.mechanism === 'quota' ? undefined : quota.reason)}`,
      async () => {
        const v = await smallVolume();
        const sandbox = await start(
          spec(['/bin/sh', '-c', 'echo kept > /workspace/f; echo started; read line'], {
            limits: { ...DEFAULT_LIMITS, diskBytes: SMALL_DISK },
            workspaceDir: v.workspaceDir,
            diskQuota: true,
          }),
        );
        const r = collect(sandbox);
        await waitFor('the sandbox to start', () => (r.out().includes('started') ? true : undefined));
        // something else on the host makes a mount namespace while the sandbox runs (an image build does)
        const other = await otherMountNamespace();
        try {
          sandbox.stdin.end('done\n');
          await sandbox.exited;
          await sandbox.stop();
          await unmountAgentVolume(v.home, 'contract');
          await waitFor('the loop device to be released', () =>
            attachedLoops(v.image).length === 0 ? true : undefined,
          ).catch(() => undefined);
          expect(attachedLoops(v.image), 'loop devices still attached').toEqual([]);
          expect(other.running(), 'the other namespace still runs').toBe(true);
        } finally {
          await other.end();
        }
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

    // a backend without a factory in testing/contract-child.ts (docker) tests its reap() in its own suite
    if (hasContractChild(name))
      it(
        `after the starting process is killed, reap() removes what it left, and only that`,
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
