// How an agent's egress fields change under --allow/--disallow/--egress (CLI and dashboard alike): each pattern is
// checked with the gateway's own parser before anything is written, and a change yields one audit entry.
import { EGRESS_PRESETS } from './egress.ts';
import type { EgressPreset } from './egress.ts';
import { patternProblem } from './egress-pattern.ts';
import { CorralError } from '../util/errors.ts';

export interface EgressOptions {
  allow: string[];
  disallow: string[];
  egress?: string;
}

export interface EgressFields {
  egress: EgressPreset;
  allow: string[];
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
