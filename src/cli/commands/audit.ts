// corral audit list|verify: the tamper-evident trail of what happened.
import type { Command } from 'commander';
import { openStore } from '../../host/open.ts';
import { CorralError } from '../../util/errors.ts';
import type { CliContext } from '../context.ts';
import { printTable } from '../context.ts';

export function registerAudit(program: Command, ctx: CliContext): void {
  const audit = program.command('audit').description('read and verify the audit log');
  audit
    .command('list')
    .description('recent audit entries, newest last')
    .option('--limit <n>', 'how many', '50')
    .option('--subject <name>', 'only entries about this agent, tool or secret')
    .option('--json', 'print JSON')
    .action((opts: { limit: string; subject?: string; json?: boolean }) => {
      const store = openStore(ctx.home);
      try {
        const rows = store.listAudit({
          limit: Number(opts.limit),
          ...(opts.subject ? { subject: opts.subject } : {}),
        });
        if (opts.json === true) ctx.out(JSON.stringify(rows, null, 2) + '\n');
        else
          printTable(
            ctx,
            rows.map((r) => ({ seq: r.seq, at: r.at, actor: r.actor, action: r.action, subject: r.subject })),
            false,
            'no audit entries',
          );
      } finally {
        store.close();
      }
    });
  audit
    .command('verify')
    .description('recompute the hash chain; fails if any entry was changed, removed or reordered')
    .action(() => {
      const store = openStore(ctx.home);
      try {
        const v = store.verifyAudit();
        if (!v.ok)
          throw new CorralError('audit_broken', `audit chain broken at entry ${v.brokenAt}: ${v.reason}`);
        ctx.out(`audit chain intact: ${v.count} entries\n`);
      } finally {
        store.close();
      }
    });
}
