// A process's identity for good: its pid plus its start time, so a record left by a dead process is never
// taken for a live one that happens to get the same pid.
import fs from 'node:fs';

/** Start time in clock ticks since boot (field 22 of /proc/PID/stat), or undefined when there is no such process. */
export function processStartTime(pid: number): string | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // the command name (field 2) is in parentheses and may itself contain spaces and ')'
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

/** A process recorded by pid and start time: true while that very process runs (not one reusing its pid). */
export function processAlive(p: { pid: number; start: string }): boolean {
  return processStartTime(p.pid) === p.start;
}
