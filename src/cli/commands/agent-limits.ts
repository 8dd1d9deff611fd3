// --memory, --cpus, --processes, --disk, --turn-timeout, --tool-timeout for `corral agent add|set`; `default`
// removes a setting so the default applies again. Values are checked here, with the error saying what to write.
import type { Command } from 'commander';
import type { AgentConfig } from '../../config/schema.ts';
import { AgentLimits, ByteSize } from '../../config/schema.ts';
import { openStore } from '../../host/open.ts';
import { MIN_DISK_BYTES } from '../../host/agent-volume.ts';
import { sandboxLimits, timeLimits } from '../../host/limits.ts';
import { formatBytes } from '../../sandbox/limit-hit.ts';
import { CorralError } from '../../util/errors.ts';
import type { CliContext } from '../context.ts';

export interface LimitOptions {
  memory?: string;
  cpus?: string;
  processes?: string;
  disk?: string;
  turnTimeout?: string;
  toolTimeout?: string;
}

const MIN_MEMORY_BYTES = 64 * 1024 * 1024;

export function addLimitOptions(cmd: Command): Command {
  return cmd
    .option('--memory <size>', 'memory of the whole sandbox, e.g. 512MiB or 2GiB (default 512MiB)')
    .option('--cpus <n>', 'CPU cores the sandbox may use, e.g. 0.5 or 2 (default 1)')
    .option('--processes <n>', 'processes and threads inside (default 512)')
    .option('--disk <size>', 'workspace plus environment on disk, e.g. 8GiB (default 4GiB)')
    .option('--turn-timeout <seconds>', 'wall-clock seconds per turn (default 600)')
    .option('--tool-timeout <seconds>', 'wall-clock seconds per tool call (default 120)');
}

const bad = (flag: string, value: string, want: string): CorralError =>
  new CorralError('invalid_argument', `cannot read ${flag} '${value}'`, `write ${want}, or 'default'`);

function size(flag: string, value: string, min: number): number {
  const r = ByteSize.safeParse(value);
  if (!r.success) throw bad(flag, value, 'a size such as 512MiB, 2GiB or 1048576');
  if (r.data < min) throw bad(flag, value, `at least ${formatBytes(min)}`);
  return r.data;
}

function whole(flag: string, value: string, min: number, max: number): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < min || n > max)
    throw bad(flag, value, `a whole number from ${min} to ${max}`);
  return n;
}

export const limitFlagsGiven = (o: LimitOptions): boolean =>
  [o.memory, o.cpus, o.processes, o.disk, o.turnTimeout, o.toolTimeout].some((v) => v !== undefined);

/** The limits after applying the flags to the current ones. */
export function nextLimits(current: AgentLimits, o: LimitOptions): AgentLimits {
  const l: AgentLimits = { ...current };
  const set = <K extends keyof AgentLimits>(
    key: K,
    value: string | undefined,
    parse: (v: string) => AgentLimits[K],
  ) => {
    if (value === undefined) return;
    if (value === 'default') delete l[key];
    else l[key] = parse(value);
  };
  set('memory', o.memory, (v) => size('--memory', v, MIN_MEMORY_BYTES));
  set('cpus', o.cpus, (v) => {
    const n = Number(v);
    if (!/^\d+(\.\d+)?$/.test(v) || !(n >= 0.01 && n <= 256))
      throw bad('--cpus', v, 'a number of cores from 0.01 to 256');
    return n;
  });
  set('processes', o.processes, (v) => whole('--processes', v, 16, 65_536));
  set('disk', o.disk, (v) => size('--disk', v, MIN_DISK_BYTES));
  set('turnSeconds', o.turnTimeout, (v) => whole('--turn-timeout', v, 1, 86_400));
  set('toolSeconds', o.toolTimeout, (v) => whole('--tool-timeout', v, 1, 86_400));
  return AgentLimits.parse(l);
}

/** One line per limit with the value in force (configured or default). */
export function describeLimits(l: AgentLimits): string[] {
  const s = sandboxLimits(l);
  const t = timeLimits(l);
  const mark = (set: boolean): string => (set ? '' : ' (default)');
  return [
    `memory ${formatBytes(s.memoryBytes)}${mark(l.memory !== undefined)}`,
    `cpus ${s.cpus}${mark(l.cpus !== undefined)}`,
    `processes ${s.maxProcesses}${mark(l.processes !== undefined)}`,
    `disk ${formatBytes(s.diskBytes)}${mark(l.disk !== undefined)}`,
    `turn ${t.turnSeconds} s${mark(l.turnSeconds !== undefined)}`,
    `tool call ${t.toolSeconds} s${mark(l.toolSeconds !== undefined)}`,
  ];
}

export function recordLimits(ctx: CliContext, agent: AgentConfig): void {
  const store = openStore(ctx.home);
  try {
    store.ensureAgent(agent.name);
    store.appendAudit({
      actor: 'operator',
      action: 'agent.limits',
      subject: agent.name,
      detail: { limits: agent.limits },
    });
  } finally {
    store.close();
  }
}
