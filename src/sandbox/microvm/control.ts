// The control port, host side. The guest sends "events OOM_KILLS PIDS_REFUSED" (its agent cgroup's counters,
// when asked and before it ends) and "exit CODE"; the host sends "events" and "stop". Counters that grew become
// limit hits, in the sentences every backend uses.
import type { Socket } from 'node:net';
import { limitHit } from '../limit-hit.ts';
import type { LimitHit, SandboxLimits } from '../types.ts';

/** How long a running guest may take to answer "events" (a busy TCG guest is slow) before none are reported. */
const EVENTS_REPLY_MS = 10_000;

export interface VmControl {
  /** the command's exit code, once the guest reported it */
  exitCode(): number | undefined;
  /** whether the agent's cgroup ever had a process killed for memory */
  everOutOfMemory(): boolean;
  /** limit hits not yet collected; asks the guest first while it runs */
  limitEvents(): Promise<LimitHit[]>;
  /** asks the guest to end its processes and power off */
  stop(): void;
}

export function createVmControl(ctl: Socket, limits: SandboxLimits): VmControl {
  let code: number | undefined;
  let seen = { oom: 0, pids: 0 };
  const pending: LimitHit[] = [];
  let waiters: (() => void)[] = [];
  let buffered = '';

  const onLine = (line: string): void => {
    const exit = /^exit (\d+)$/.exec(line);
    if (exit?.[1] !== undefined) code = Number(exit[1]);
    const ev = /^events (\d*) (\d*)$/.exec(line);
    if (ev === null) return;
    const now = { oom: Number(ev[1] || 0), pids: Number(ev[2] || 0) };
    if (now.oom > seen.oom) pending.push(limitHit('memoryBytes', limits));
    if (now.pids > seen.pids) pending.push(limitHit('maxProcesses', limits));
    seen = { oom: Math.max(seen.oom, now.oom), pids: Math.max(seen.pids, now.pids) };
    const ready = waiters;
    waiters = [];
    for (const w of ready) w();
  };
  ctl.on('data', (c: Buffer) => {
    buffered += c.toString('utf8');
    let nl: number;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      onLine(buffered.slice(0, nl));
      buffered = buffered.slice(nl + 1);
    }
  });
  ctl.on('close', () => {
    const ready = waiters;
    waiters = [];
    for (const w of ready) w();
  });
  const open = (): boolean => !ctl.destroyed && ctl.writable;

  return {
    exitCode: () => code,
    everOutOfMemory: () => seen.oom > 0,
    async limitEvents() {
      if (open() && code === undefined) {
        const answered = new Promise<void>((resolve) => {
          waiters.push(resolve);
          setTimeout(resolve, EVENTS_REPLY_MS).unref();
        });
        ctl.write('events\n');
        await answered;
      }
      return pending.splice(0);
    },
    stop() {
      if (open()) ctl.write('stop\n');
    },
  };
}
