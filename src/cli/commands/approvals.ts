// corral approvals list|show|approve|deny: actions the policy held for a human, shown with their complete payload.
import type { Command } from 'commander';
import { openGovernance } from '../../host/governance.ts';
import { openStore } from '../../host/open.ts';
import { LOCAL_OPERATOR } from '../../policy/actions.ts';
import type { ApprovalRow } from '../../store/approval-types.ts';
import { CorralError } from '../../util/errors.ts';
import type { CliContext } from '../context.ts';
import { printTable } from '../context.ts';

const STATUSES = ['pending', 'approved', 'denied', 'expired'] as const;

function withApprovals<T>(ctx: CliContext, fn: (a: ReturnType<typeof openGovernance>['approvals']) => T): T {
  const store = openStore(ctx.home);
  try {
    return fn(openGovernance(ctx.home, store).approvals);
  } finally {
    store.close();
  }
}

/** Every field, the payload as indented JSON: an approver sees exactly what would run. */
function describe(a: ApprovalRow): string {
  const lines = [
    `approval   ${a.id}`,
    `status     ${a.status}${a.decidedBy === null ? '' : ` by ${a.decidedBy} at ${a.decidedAt ?? ''}`}${a.always ? ' (always)' : ''}`,
    `action     ${a.action}`,
    `principal  ${a.principal}`,
    `resource   ${a.resource}`,
    `why        ${a.reason}${a.rule === null ? '' : ` (${a.rule})`}`,
    `created    ${a.createdAt}`,
    `expires    ${a.expiresAt}`,
    'payload',
    JSON.stringify(a.payload, null, 2),
  ];
  return lines.join('\n') + '\n';
}

export function registerApprovals(program: Command, ctx: CliContext): void {
  const cmd = program
    .command('approvals')
    .description('actions held by the policy until an operator decides');
  cmd
    .command('list', { isDefault: true })
    .description('approvals, newest first (pending ones by default)')
    .option('--status <status>', `${STATUSES.join('|')}|all`, 'pending')
    .option('--json', 'print JSON (with complete payloads)')
    .action((opts: { status: string; json?: boolean }) => {
      const status = STATUSES.find((s) => s === opts.status);
      if (status === undefined && opts.status !== 'all')
        throw new CorralError(
          'invalid_argument',
          `unknown status '${opts.status}'`,
          `use ${STATUSES.join(', ')} or all`,
        );
      const rows = withApprovals(ctx, (a) => a.list(status === undefined ? {} : { status }));
      if (opts.json === true) return ctx.out(JSON.stringify(rows, null, 2) + '\n');
      const table = rows.map((r) => ({
        id: r.id,
        status: r.status,
        action: r.action,
        principal: r.principal,
        resource: r.resource,
        payload: JSON.stringify(r.payload),
        expires: r.expiresAt,
      }));
      printTable(ctx, table, false, `no ${opts.status === 'all' ? '' : `${opts.status} `}approvals`);
    });
  cmd
    .command('show <id>')
    .description('one approval with its complete payload')
    .option('--json', 'print JSON')
    .action((id: string, opts: { json?: boolean }) => {
      const row = withApprovals(ctx, (a) => a.show(id));
      ctx.out(opts.json === true ? JSON.stringify(row, null, 2) + '\n' : describe(row));
    });
  cmd
    .command('approve <id>')
    .description('let the held action go ahead (the identical action, for an hour)')
    .option(
      '--always',
      'also write an allow rule for exactly this principal, action and resource to policy.yaml',
    )
    .option('--json', 'print JSON')
    .action((id: string, opts: { always?: boolean; json?: boolean }) => {
      const row = withApprovals(ctx, (a) => a.approve(id, LOCAL_OPERATOR, { always: opts.always === true }));
      ctx.out(
        opts.json === true
          ? JSON.stringify(row, null, 2) + '\n'
          : `approved ${row.id}: ${row.action} on ${row.resource}${row.always ? ' (rule written to policy.yaml)' : ''}\n`,
      );
    });
  cmd
    .command('deny <id>')
    .description('refuse the held action; the agent is told it was denied')
    .option('--json', 'print JSON')
    .action((id: string, opts: { json?: boolean }) => {
      const row = withApprovals(ctx, (a) => a.deny(id, LOCAL_OPERATOR));
      ctx.out(
        opts.json === true
          ? JSON.stringify(row, null, 2) + '\n'
          : `denied ${row.id}: ${row.action} on ${row.resource}\n`,
      );
    });
}
