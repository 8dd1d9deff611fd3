// The sentence a user reads when a sandbox runs into one of its limits, the same on every backend.
import type { LimitHit, SandboxLimits } from './types.ts';

/** 536870912 → '512 MiB', 1610612736 → '1.5 GiB'. */
export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${Number(v.toFixed(1))} ${units[i] ?? 'B'}`;
}

function describe(limit: keyof SandboxLimits, limits: SandboxLimits): string {
  switch (limit) {
    case 'memoryBytes':
      return `memory limit ${formatBytes(limits.memoryBytes)}`;
    case 'cpus':
      return `CPU limit ${limits.cpus} ${limits.cpus === 1 ? 'core' : 'cores'}`;
    case 'maxProcesses':
      return `process limit ${limits.maxProcesses}`;
    case 'maxOpenFiles':
      return `open-file limit ${limits.maxOpenFiles}`;
    case 'maxFileBytes':
      return `file size limit ${formatBytes(limits.maxFileBytes)}`;
    case 'diskBytes':
      return `disk limit ${formatBytes(limits.diskBytes)}`;
  }
}

const CONSEQUENCE: Record<keyof SandboxLimits, string> = {
  memoryBytes: 'the process was stopped',
  cpus: 'the sandbox was slowed down',
  maxProcesses: 'new processes were refused',
  maxOpenFiles: 'opening more files was refused',
  maxFileBytes: 'the write was refused',
  diskBytes: 'writes fail until files are removed',
};

export function limitHit(limit: keyof SandboxLimits, limits: SandboxLimits, consequence?: string): LimitHit {
  return { limit, message: `${describe(limit, limits)} reached; ${consequence ?? CONSEQUENCE[limit]}` };
}
