// One session = one exec in a running container: its stdin/stdout/stderr over a hijacked connection, its exit
// code from exec inspect, and the container's OOM events turned into limit hits.
import type { Socket } from 'node:net';
import { PassThrough } from 'node:stream';
import type { Logger } from '../../util/log.ts';
import type { LimitHit, SandboxExit, SandboxLimits } from '../types.ts';
import { limitHit } from '../limit-hit.ts';
import { diskFull, diskHit } from '../disk-usage.ts';
import type { DockerApi } from './api.ts';
import { execCreateBody } from './create-body.ts';
import { demultiplex } from './demux.ts';
import { oomKillCount, pidsLimitCount } from './cgroup.ts';

/** Docker sets the exit code a moment after it closes the streams; how long to wait for it. */
const EXIT_CODE_WAIT_MS = 2_000;
const EXIT_CODE_POLL_MS = 20;
const SIGKILL_STATUS = 137;

export interface ExecSession {
  execId: string;
  /** host pid of the container's first process (docker-init); killing the container ends it */
  containerPid: number | undefined;
  stdin: PassThrough;
  stdout: PassThrough;
  stderr: PassThrough;
  exited: Promise<SandboxExit>;
  /** limits hit since the last call */
  takeLimitHits(): LimitHit[];
  /** stops listening for events and closes the connection (the process itself is killed by the caller) */
  close(): void;
}

export function memoryHit(limits: SandboxLimits, wholeSandbox = false): LimitHit {
  return limitHit('memoryBytes', limits, wholeSandbox ? 'the sandbox was stopped' : undefined);
}

async function exitCode(api: DockerApi, execId: string): Promise<number | null> {
  const deadline = Date.now() + EXIT_CODE_WAIT_MS;
  for (;;) {
    const e = await api.execInspect(execId).catch(() => undefined);
    if (e === undefined) return null;
    if (!e.Running && e.ExitCode !== null) return e.ExitCode;
    if (Date.now() > deadline) return null;
    await new Promise((r) => setTimeout(r, EXIT_CODE_POLL_MS));
  }
}

export async function startExecSession(
  api: DockerApi,
  log: Logger,
  opts: {
    containerId: string;
    command: string[];
    env: Record<string, string>;
    limits: SandboxLimits;
    /** runsc: the container's cgroup holds gVisor's kernel, so a memory hit ends the whole sandbox */
    memoryHitEndsSandbox?: boolean;
    /** the workspace is on a volume of the disk limit: a full volume is reported */
    diskQuotaDir?: string;
  },
): Promise<ExecSession> {
  const events = new AbortController();
  // OOM kills from two sources: Docker's events (any cgroup layout) and the cgroup's own counter (read when
  // the session ends, so it cannot lose a race with the event stream); the larger count wins
  let oomEvents = 0;
  const oomBase = oomKillCount(opts.containerId);
  const ooms = (): number =>
    Math.max(oomEvents, oomBase === undefined ? 0 : (oomKillCount(opts.containerId) ?? oomBase) - oomBase);
  let reportedOoms = 0;
  let pidsSeen = pidsLimitCount(opts.containerId);
  let diskWasFull = false;
  const subscribed = await api.containerEvents(opts.containerId, events.signal, (action) => {
    if (action === 'oom') oomEvents += 1;
  });
  subscribed.done.catch(() => undefined); // ends with an abort when the session closes

  let socket: Socket;
  let execId: string;
  let containerPid: number | undefined;
  try {
    const pid = (await api.containerInspect(opts.containerId))?.State.Pid;
    containerPid = pid !== undefined && pid > 0 ? pid : undefined;
    execId = await api.execCreate(opts.containerId, execCreateBody(opts.command, opts.env));
    socket = await api.execStart(execId);
  } catch (err) {
    events.abort();
    throw err;
  }
  const stdin = new PassThrough();
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  // stdin's end half-closes the connection, which Docker passes on as end-of-file to the process
  stdin.pipe(socket);
  socket.on('error', (err) => log.debug('docker: exec stream error', { exec: execId, err: String(err) }));
  stdin.on('error', () => undefined);
  demultiplex(socket, stdout, stderr);

  const exited = new Promise<SandboxExit>((resolve) => {
    socket.once('close', () => {
      void exitCode(api, execId).then((code) => {
        const oomDuringSession = ooms() > reportedOoms;
        const ended = opts.memoryHitEndsSandbox === true || code === SIGKILL_STATUS;
        if (oomDuringSession && ended) reportedOoms = ooms();
        resolve({
          code,
          signal: null,
          ...(oomDuringSession && ended
            ? { limitHit: memoryHit(opts.limits, opts.memoryHitEndsSandbox) }
            : {}),
        });
      });
    });
  });

  return {
    execId,
    containerPid,
    stdin,
    stdout,
    stderr,
    exited,
    takeLimitHits() {
      const hits: LimitHit[] = [];
      for (const n = ooms(); reportedOoms < n; reportedOoms += 1)
        hits.push(memoryHit(opts.limits, opts.memoryHitEndsSandbox));
      const full = opts.diskQuotaDir !== undefined && diskFull(opts.diskQuotaDir);
      if (full && !diskWasFull) hits.push(diskHit(opts.limits));
      diskWasFull = full;
      const pids = pidsLimitCount(opts.containerId);
      if (pids !== undefined && pidsSeen !== undefined && pids > pidsSeen) {
        hits.push({
          limit: 'maxProcesses',
          message: `process limit ${opts.limits.maxProcesses} reached; new processes were refused`,
        });
      }
      pidsSeen = pids;
      return hits;
    },
    close() {
      events.abort();
      stdin.end();
      socket.destroy();
    },
  };
}
