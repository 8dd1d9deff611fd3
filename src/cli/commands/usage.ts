// corral usage: tokens and cost per agent and model over a window, with totals.
import type { Command } from 'commander';
import { agentExists } from '../../config/agent-files.ts';
import { loadConfig } from '../../config/config-file.ts';
import { openStore } from '../../host/open.ts';
import { CorralError } from '../../util/errors.ts';
import type { CliContext } from '../context.ts';
import { printTable } from '../context.ts';
import { buildReport, reportTable } from '../usage/report.ts';
import { parseSince } from '../usage/since.ts';

export const DEFAULT_SINCE = '30d';

export function registerUsage(program: Command, ctx: CliContext): void {
  program
    .command('usage')
    .description('model tokens and cost per agent and model (prices from corral.yaml)')
    .option('--agent <name>', 'only this agent')
    .option('--since <when>', 'span back (24h, 7d) or UTC date (2026-11-01)', DEFAULT_SINCE)
    .option('--json', 'print JSON')
    .action((opts: { agent?: string; since: string; json?: boolean }) => {
      const until = new Date();
      const since = parseSince(opts.since, until);
      const { prices } = loadConfig(ctx.home);
      const store = openStore(ctx.home);
      let report;
      try {
        const { agent } = opts;
        if (agent !== undefined && !agentExists(ctx.home, agent) && store.getAgent(agent) === undefined)
          throw new CorralError('agent_unknown', `unknown agent '${agent}'`, 'see them: corral agent list');
        const totals = store.usageTotals({
          since: since.toISOString(),
          until: until.toISOString(),
          ...(agent === undefined ? {} : { agent }),
        });
        report = buildReport(totals, prices, { since, until });
      } finally {
        store.close();
      }
      if (opts.json === true) return ctx.out(JSON.stringify(report, null, 2) + '\n');
      ctx.err(`usage since ${report.since} (UTC)\n`);
      if (report.rows.length === 0) return ctx.err('no model calls in this window\n');
      printTable(ctx, reportTable(report), false, '');
      if (report.unpriced.length > 0)
        ctx.err(`no price for ${report.unpriced.join(', ')}: add one under prices: in corral.yaml\n`);
    });
}
