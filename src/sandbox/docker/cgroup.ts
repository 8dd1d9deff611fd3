// Host-side reads of a container's cgroup counters: how often the kernel enforced its pids and memory limits.
// Read synchronously when a session ends, they do not race with Docker's event stream.
import fs from 'node:fs';

/** Where dockerd puts a container's cgroup for one controller: v1 and v2, cgroupfs and systemd drivers. */
function cgroupFiles(containerId: string, v1Controller: string, file: string): string[] {
  return [
    `/sys/fs/cgroup/${v1Controller}/docker/${containerId}/${file}`,
    `/sys/fs/cgroup/${v1Controller}/system.slice/docker-${containerId}.scope/${file}`,
    `/sys/fs/cgroup/docker/${containerId}/${file}`,
    `/sys/fs/cgroup/system.slice/docker-${containerId}.scope/${file}`,
  ];
}

function counter(files: string[], pattern: RegExp): number | undefined {
  for (const file of files) {
    try {
      const m = pattern.exec(fs.readFileSync(file, 'utf8'));
      if (m !== null) return Number(m[1]);
    } catch {
      // not this layout
    }
  }
  return undefined;
}

/** How many times a fork was refused at the container's pids limit; undefined when no counter is readable. */
export function pidsLimitCount(containerId: string): number | undefined {
  return counter(cgroupFiles(containerId, 'pids', 'pids.events'), /^max (\d+)$/m);
}

/** How many processes the kernel killed at the container's memory limit (v1 memory.oom_control, v2 memory.events). */
export function oomKillCount(containerId: string): number | undefined {
  return counter(
    [
      ...cgroupFiles(containerId, 'memory', 'memory.oom_control'),
      ...cgroupFiles(containerId, 'memory', 'memory.events'),
    ],
    /^oom_kill (\d+)$/m,
  );
}
