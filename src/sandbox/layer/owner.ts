// Which process a mounted layer belongs to: a small file beside the mount point naming its pid and start time,
// so a reaper leaves a live corral's mounts alone and a reused pid is not mistaken for the owner.
import fs from 'node:fs';

/** start time in clock ticks since boot (field 22 of /proc/PID/stat), or undefined when there is no such process */
export function processStartTime(pid: number): string | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // the command name (field 2) is in parentheses and may itself contain spaces and ')'
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return rest[19];
  } catch {
    return undefined;
  }
}

export function ownerFile(mountpoint: string): string {
  return `${mountpoint}.owner`;
}

export function writeOwner(mountpoint: string, pid = process.pid): void {
  const fd = fs.openSync(
    ownerFile(mountpoint),
    fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_TRUNC | fs.constants.O_NOFOLLOW,
    0o600,
  );
  try {
    fs.writeSync(fd, `${pid} ${processStartTime(pid) ?? '?'}\n`);
  } finally {
    fs.closeSync(fd);
  }
}

/** The owning process is still running: the same pid with the same start time. */
export function ownerAlive(mountpoint: string): boolean {
  let text: string;
  try {
    text = fs.readFileSync(ownerFile(mountpoint), 'utf8');
  } catch {
    return false;
  }
  const [pid, start] = text.trim().split(' ');
  const n = Number(pid);
  return Number.isInteger(n) && n > 0 && start !== undefined && processStartTime(n) === start;
}

export function removeOwner(mountpoint: string): void {
  fs.rmSync(ownerFile(mountpoint), { force: true });
}
