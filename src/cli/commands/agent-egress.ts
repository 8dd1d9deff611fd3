// The egress options of `corral agent add|set`: --allow and --disallow patterns (repeatable) and --egress
// PRESET; the rules for applying them live in src/policy/egress-change.ts.
import type { Command } from 'commander';
import { EGRESS_PRESETS } from '../../policy/egress.ts';
import { egressAuditEntry } from '../../policy/egress-change.ts';
import type { EgressFields, EgressOptions } from '../../policy/egress-change.ts';
import { openStore } from '../../host/open.ts';
import type { CliContext } from '../context.ts';

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
