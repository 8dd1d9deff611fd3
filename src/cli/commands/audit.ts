// corral audit list|show|verify|export|anchor: the tamper-evident trail of what happened.
import fs from 'node:fs';
import type { Command } from 'commander';
import { Anchor, anchorOf, anchorProblem } from '../../audit/anchor.ts';
import { toOcsf } from '../../audit/ocsf.ts';
import { openStore } from '../../host/open.ts';
import type { AuditQuery, Store } from '../../store/types.ts';
import { CorralError } from '../../util/errors.ts';
import type { CliContext } from '../context.ts';
import { printTable } from '../context.ts';
import { parseSince } from '../usage/since.ts';

const VERSION = '0.1.0';

function withStore<T>(ctx: CliContext, fn: (store: Store) => T): T {
  const store = openStore(ctx.home);
  try {
    return fn(store);
  } finally {
    store.close();
  }
}

interface Filters {
  agent?: string;
  session?: string;
  action?: string;
  since?: string;
  limit?: string;
}

function query(opts: Filters): AuditQuery {
  const limit = opts.limit === undefined ? undefined : Number(opts.limit);
  return {
    ...(opts.agent === undefined ? {} : { agent: opts.agent }),
    ...(opts.session === undefined ? {} : { session: opts.session }),
    ...(opts.action === undefined ? {} : { action: opts.action }),
    ...(opts.since === undefined ? {} : { since: parseSince(opts.since, new Date()).toISOString() }),
    ...(limit === undefined ? {} : { limit }),
  };
}

const filterOptions = (c: Command): Command =>
  c
    .option('--agent <name>', 'entries about or by this agent')
    .option('--session <id>', 'entries of this session')
    .option('--action <action>', 'an action (egress.deny) or a family (egress)')
    .option('--since <when>', 'a span back from now (90m, 24h, 7d), a UTC date or an ISO timestamp');

export function registerAudit(program: Command, ctx: CliContext): void {
  const audit = program.command('audit').description('read, export, anchor and verify the audit log');
  audit
    .command('list')
    .description('recent audit entries, newest last')
    .option('--limit <n>', 'how many', '50')
    .option('--subject <name>', 'only entries about this agent, tool or secret')
    .option('--json', 'print JSON')
    .action((opts: { limit: string; subject?: string; json?: boolean }) => {
      const rows = withStore(ctx, (s) =>
        s.listAudit({ limit: Number(opts.limit), ...(opts.subject ? { subject: opts.subject } : {}) }),
      );
      if (opts.json === true) ctx.out(JSON.stringify(rows, null, 2) + '\n');
      else
        printTable(
          ctx,
          rows.map((r) => ({ seq: r.seq, at: r.at, actor: r.actor, action: r.action, subject: r.subject })),
          false,
          'no audit entries',
        );
    });
  filterOptions(audit.command('show'))
    .description('entries matching every filter, with their details, newest last')
    .option('--limit <n>', 'at most this many (the newest)', '100')
    .option('--json', 'print JSON')
    .action((opts: Filters & { json?: boolean }) => {
      const rows = withStore(ctx, (s) => s.queryAudit(query(opts)));
      if (opts.json === true) return ctx.out(JSON.stringify(rows, null, 2) + '\n');
      const table = rows.map((r) => ({
        seq: r.seq,
        at: r.at,
        actor: r.actor,
        action: r.action,
        subject: r.subject,
        detail: JSON.stringify(r.detail),
      }));
      printTable(ctx, table, false, 'no audit entries match');
    });
  filterOptions(audit.command('export'))
    .description('entries as JSON lines for a SIEM: corral records (jsonl) or OCSF 1.1 events (ocsf)')
    .option('--format <format>', 'jsonl or ocsf', 'jsonl')
    .action((opts: Filters & { format: string }) => {
      if (opts.format !== 'jsonl' && opts.format !== 'ocsf')
        throw new CorralError(
          'invalid_argument',
          `unknown format '${opts.format}'`,
          'use --format jsonl or ocsf',
        );
      withStore(ctx, (s) => {
        for (const e of s.queryAudit(query(opts)))
          ctx.out(JSON.stringify(opts.format === 'ocsf' ? toOcsf(e, { version: VERSION }) : e) + '\n');
      });
    });
  audit
    .command('anchor')
    .description('the chain head (seq, hash, time): keep it elsewhere, check it later with verify --anchor')
    .option('--out <file>', 'write it to this file (created; never overwritten)')
    .action((opts: { out?: string }) => {
      const head = withStore(ctx, (s) => s.listAudit({ limit: 1 })[0]);
      if (head === undefined)
        throw new CorralError('audit_empty', 'the audit log is empty: nothing to anchor');
      const text = JSON.stringify(anchorOf(head, new Date())) + '\n';
      if (opts.out === undefined) return ctx.out(text);
      fs.writeFileSync(opts.out, text, { flag: 'wx', mode: 0o644 });
      ctx.out(`anchored entry ${head.seq} (${head.hash}) in ${opts.out}\n`);
    });
  audit
    .command('verify')
    .description('recompute the hash chain; fails if any entry was changed, removed or reordered')
    .option('--anchor <file>', 'also check that the chain still holds the head anchored in this file')
    .action((opts: { anchor?: string }) => {
      const anchor = opts.anchor === undefined ? undefined : readAnchor(opts.anchor);
      withStore(ctx, (s) => {
        const v = s.verifyAudit();
        if (!v.ok)
          throw new CorralError('audit_broken', `audit chain broken at entry ${v.brokenAt}: ${v.reason}`);
        const problem = anchor === undefined ? null : anchorProblem(anchor, s.getAudit(anchor.seq));
        if (problem !== null)
          throw new CorralError('audit_anchor_mismatch', `audit chain does not match the anchor: ${problem}`);
        ctx.out(
          `audit chain intact: ${v.count} entries${anchor === undefined ? '' : `, anchored entry ${anchor.seq} present`}\n`,
        );
      });
    });
}

function readAnchor(file: string): Anchor {
  let value: unknown;
  try {
    value = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    throw new CorralError(
      'anchor_invalid',
      `cannot read the anchor ${file}`,
      'write one with: corral audit anchor --out FILE',
      { cause: err },
    );
  }
  const parsed = Anchor.safeParse(value);
  if (!parsed.success)
    throw new CorralError(
      'anchor_invalid',
      `${file} is not an audit anchor`,
      'write one with: corral audit anchor --out FILE',
    );
  return parsed.data;
}
