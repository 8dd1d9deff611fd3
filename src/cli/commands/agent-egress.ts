// The egress options of `corral agent add|set`: --allow and --disallow patterns (repeatable) and --egress
// PRESET, validated with the gateway's own parser before anything is written.
import type { Command } from 'commander';
import { EGRESS_PRESETS } from '../../policy/egress.ts';
import type { EgressPreset } from '../../policy/egress.ts';
import { patternProblem } from '../../policy/egress-pattern.ts';
import { openStore } from '../../host/open.ts';
import { CorralError } from '../../util/errors.ts';
import type { CliContext } from '../context.ts';

export interface EgressOptions {
  allow: string[];
  disallow: string[];
  egress?: string;
}

export interface EgressFields {
  egress: EgressPreset;
  allow: string[];
}

const collect = (value: string, previous: string[]): string[] => [...previous, value];

export function addEgressOptions(cmd: Command, withDisallow: boolean): Command {
  cmd
    .option(
      '--allow <pattern>',
      'let the agent reach host, *.host, host:port, IP[:port] or "METHOD host/path" (repeatable)',
      collect,
      [],
    )
    .option('--egress <preset>', `egress preset under the allow rules: ${EGRESS_PRESETS.join('|')}`);
  if (withDisallow) cmd.option('--disallow <pattern>', 'remove an allow pattern (repeatable)', collect, []);
  return cmd;
}

function isPreset(value: string): value is EgressPreset {
  return EGRESS_PRESETS.some((p) => p === value);
}

/** The egress fields after the options are applied; throws a CorralError naming the bad value. */
export function nextEgress(current: EgressFields, opts: EgressOptions): EgressFields {
  for (const pattern of opts.allow) {
    const problem = patternProblem(pattern);
    if (problem !== undefined)
      throw new CorralError('invalid_argument', `--allow ${problem}`, 'see: corral agent add --help');
  }
  const missing = opts.disallow.filter((p) => !current.allow.includes(p) && !opts.allow.includes(p));
  if (missing.length > 0)
    throw new CorralError(
      'invalid_argument',
      `--disallow: no such allow pattern: ${missing.join(', ')}`,
      'see them: corral agent show NAME',
    );
  let egress = current.egress;
  if (opts.egress !== undefined) {
    if (!isPreset(opts.egress))
      throw new CorralError(
        'invalid_argument',
        `--egress must be one of ${EGRESS_PRESETS.join(', ')}, got '${opts.egress}'`,
      );
    egress = opts.egress;
  }
  const allow = [...new Set([...current.allow, ...opts.allow])].filter((p) => !opts.disallow.includes(p));
  return { egress, allow };
}

export function describeEgress(e: EgressFields): string {
  return `egress ${e.egress}${e.allow.length > 0 ? `, allow ${e.allow.join(', ')}` : ''}`;
}

/** The audit entry for a change of an agent's egress fields, or undefined when they did not change. */
export function egressAuditEntry(agent: string, before: EgressFields, after: EgressFields) {
  const added = after.allow.filter((p) => !before.allow.includes(p));
  const removed = before.allow.filter((p) => !after.allow.includes(p));
  if (added.length === 0 && removed.length === 0 && before.egress === after.egress) return undefined;
  return {
    actor: 'operator',
    action: 'agent.egress',
    subject: agent,
    detail: { preset: after.egress, added, removed },
  };
}

/** Audits a change of an agent's egress fields (nothing when they did not change). */
export function recordEgress(
  ctx: CliContext,
  agent: string,
  before: EgressFields,
  after: EgressFields,
): void {
  const entry = egressAuditEntry(agent, before, after);
  if (entry === undefined) return;
  const store = openStore(ctx.home);
  try {
    store.appendAudit(entry);
  } finally {
    store.close();
  }
}

export function egressFlagsGiven(opts: EgressOptions): boolean {
  return opts.allow.length + opts.disallow.length > 0 || opts.egress !== undefined;
}
