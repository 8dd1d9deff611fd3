// corral egress check|log: dry-run the gateway's decision for a URL, and read recent egress decisions.
import type { Command } from 'commander';
import { loadAgent } from '../../config/agent-files.ts';
import { hostAddresses, systemResolver } from '../../policy/destination.ts';
import { checkEgressUrl } from '../../policy/egress-check.ts';
import { policyOf } from '../../host/egress-policy.ts';
import { openStore } from '../../host/open.ts';
import { CorralError } from '../../util/errors.ts';
import type { CliContext } from '../context.ts';
import { printTable } from '../context.ts';

/** Audit entries read back to find egress decisions among everything else; newer ones first. */
const AUDIT_SCAN_LIMIT = 20_000;

export function registerEgress(program: Command, ctx: CliContext): void {
  const egress = program.command('egress').description('check and review what agents may reach');
  egress
    .command('check <agent> <url>')
    .description('dry-run the gateway: would this agent reach URL? (resolves the name, sends nothing to it)')
    .option('--method <method>', 'HTTP method for http:// URLs', 'GET')
    .option('--json', 'print JSON')
    .action(async (agent: string, url: string, opts: { method: string; json?: boolean }) => {
      const policy = policyOf(loadAgent(ctx.home, agent));
      const r = await checkEgressUrl(
        policy,
        url,
        { resolve: systemResolver, localAddresses: hostAddresses },
        opts.method,
      );
      if (opts.json === true) ctx.out(JSON.stringify(r, null, 2) + '\n');
      else if (r.allow) ctx.out(`allow: ${url} → ${r.address}:${r.request.port} by rule ${r.rule}\n`);
      else ctx.out(`deny: ${url}: ${r.reason}\n`);
      if (!r.allow) process.exitCode = 1;
    });
  egress
    .command('log [agent]')
    .description('recent egress decisions, newest last')
    .option('--limit <n>', 'how many', '50')
    .option('--json', 'print JSON')
    .action((agent: string | undefined, opts: { limit: string; json?: boolean }) => {
      const limit = Number(opts.limit);
      if (!Number.isInteger(limit) || limit < 1)
        throw new CorralError(
          'invalid_argument',
          `--limit must be a positive whole number, got '${opts.limit}'`,
        );
      if (agent !== undefined) loadAgent(ctx.home, agent); // an unknown agent is an error, not an empty log
      const store = openStore(ctx.home);
      try {
        const rows = store
          .listAudit({ limit: AUDIT_SCAN_LIMIT })
          .filter(
            (e) => e.action.startsWith('egress.') && (agent === undefined || e.actor === `agent:${agent}`),
          )
          .slice(-limit)
          .map((e) => ({
            at: e.at,
            agent: e.actor.replace(/^agent:/, ''),
            decision: e.action.slice('egress.'.length),
            destination: e.subject,
            method: e.detail['method'],
            path: e.detail['path'],
            why: e.detail['rule'] ?? e.detail['reason'],
            ...(opts.json === true ? { address: e.detail['address'], sandboxId: e.detail['sandboxId'] } : {}),
          }));
        printTable(ctx, rows, opts.json === true, 'no egress decisions recorded');
      } finally {
        store.close();
      }
    });
}
