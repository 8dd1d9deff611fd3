// What a running VM leaves on the host, recorded under corral's run directory so that the next corral can end it
// after a crash: the owning corral and the QEMU and virtiofsd processes, each by pid and start time (a reused pid
// is never taken for them), and their /proc/PID/cmdline checked again before anything is killed.
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { processAlive, processStartTime } from '../../util/process-start.ts';
import { readNoFollow } from '../../util/read-no-follow.ts';

const REAP_WAIT_MS = 5_000;
/** A VM directory without its state file yet may be one a live corral is making right now. */
const UNRECORDED_GRACE_MS = 60_000;

const procSchema = z.object({ pid: z.number().int().positive(), start: z.string() });
const stateSchema = z.object({
  owner: procSchema,
  qemu: procSchema.optional(),
  virtiofsd: procSchema.optional(),
});
export type VmState = z.infer<typeof stateSchema>;
type Role = 'qemu' | 'virtiofsd';

/** What /proc/PID/cmdline must contain for each role (the binary's name). */
const CMDLINE_MARK: Record<Role, string> = { qemu: 'qemu-system', virtiofsd: 'virtiofsd' };

export function vmsDir(runDir: string): string {
  return path.join(runDir, 'microvm');
}

const STATE_FILE = 'state.json';

export function proc(pid: number | undefined): { pid: number; start: string } | undefined {
  if (pid === undefined) return undefined;
  const start = processStartTime(pid);
  return start === undefined ? undefined : { pid, start };
}

export function writeState(vmDir: string, state: VmState): void {
  const tmp = path.join(vmDir, `${STATE_FILE}.tmp`);
  fs.writeFileSync(tmp, JSON.stringify(state) + '\n', { mode: 0o600, flag: 'w' });
  fs.renameSync(tmp, path.join(vmDir, STATE_FILE));
}

export function readState(vmDir: string): VmState | undefined {
  const text = readNoFollow(path.join(vmDir, STATE_FILE));
  if (text === undefined) return undefined;
  try {
    return stateSchema.parse(JSON.parse(text));
  } catch {
    return undefined;
  }
}

function cmdlineHas(pid: number, mark: string): boolean {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'latin1').includes(mark);
  } catch {
    return false;
  }
}

async function killAndWait(p: { pid: number; start: string }): Promise<void> {
  try {
    process.kill(p.pid, 'SIGKILL');
  } catch {
    return;
  }
  const until = Date.now() + REAP_WAIT_MS;
  while (processAlive(p) && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
}

/**
 * Ends the VMs a dead corral left under `runDir` and removes their directories; a live corral's are left alone.
 * Returns one line per thing cleaned.
 */
export async function reapVms(runDir: string): Promise<string[]> {
  const dir = vmsDir(runDir);
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return [];
  }
  const cleaned: string[] = [];
  for (const name of names) {
    const vmDir = path.join(dir, name);
    const state = readState(vmDir);
    if (state !== undefined && processAlive(state.owner)) continue;
    const age = Date.now() - (fs.statSync(vmDir, { throwIfNoEntry: false })?.mtimeMs ?? 0);
    if (state === undefined && age < UNRECORDED_GRACE_MS) continue;
    for (const role of ['qemu', 'virtiofsd'] as const) {
      const p = state?.[role];
      if (p === undefined || !processAlive(p) || !cmdlineHas(p.pid, CMDLINE_MARK[role])) continue;
      await killAndWait(p);
      cleaned.push(`${role} ${p.pid} of VM ${name}`);
    }
    fs.rmSync(vmDir, { recursive: true, force: true });
    cleaned.push(`run directory of VM ${name}`);
  }
  return cleaned;
}
