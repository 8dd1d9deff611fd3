// What every command gets: the home paths, a logger on stderr, and output helpers that respect --json.
import type { HomePaths } from '../config/home.ts';
import { resolveHome } from '../config/home.ts';
import type { Logger } from '../util/log.ts';
import { createLogger, logLevelFrom } from '../util/log.ts';

export interface CliContext {
  home: HomePaths;
  log: Logger;
  out: (text: string) => void;
  err: (text: string) => void;
}

export function createCliContext(env: NodeJS.ProcessEnv = process.env): CliContext {
  // The CLI reports failures itself, one line each; operational logs are opt-in (CORRAL_LOG=debug|info|warn).
  const level = logLevelFrom(env['CORRAL_LOG'], 'error');
  return {
    home: resolveHome(env),
    log: createLogger({ level }),
    out: (t) => process.stdout.write(t),
    err: (t) => process.stderr.write(t),
  };
}

/** Prints rows as aligned columns, or as JSON when asked. */
export function printTable(
  ctx: CliContext,
  rows: Record<string, unknown>[],
  json: boolean,
  empty: string,
): void {
  if (json) {
    ctx.out(JSON.stringify(rows, null, 2) + '\n');
    return;
  }
  const first = rows[0];
  if (first === undefined) {
    ctx.err(empty + '\n');
    return;
  }
  const cols = Object.keys(first);
  const cell = (v: unknown): string => {
    if (v === null || v === undefined) return '-';
    if (typeof v === 'string') return v;
    return typeof v === 'number' || typeof v === 'boolean' ? String(v) : JSON.stringify(v);
  };
  const widths = cols.map((c) => Math.max(c.length, ...rows.map((r) => cell(r[c]).length)));
  const line = (vals: string[]): string =>
    vals
      .map((v, i) => v.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd() + '\n';
  ctx.out(line(cols.map((c) => c.toUpperCase())));
  for (const r of rows) ctx.out(line(cols.map((c) => cell(r[c]))));
}
