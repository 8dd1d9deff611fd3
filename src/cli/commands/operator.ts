// corral operator add|list|rm: named API token holders in policy.yaml (admin or viewer). The token is printed once
// and only its sha256 is stored, so a lost token is replaced, never recovered.
import crypto from 'node:crypto';
import type { Command } from 'commander';
import { readPolicyFile, setPolicyOperator } from '../../config/policy-file.ts';
import { OPERATOR_ROLES } from '../../policy/actions.ts';
import type { OperatorRole } from '../../policy/actions.ts';
import { openStore } from '../../host/open.ts';
import { CorralError } from '../../util/errors.ts';
import { sha256Hex } from '../../web/auth.ts';
import type { CliContext } from '../context.ts';
import { printTable } from '../context.ts';

const NAME = /^[a-z][a-z0-9_-]{0,62}$/;

function role(text: string): OperatorRole {
  const found = OPERATOR_ROLES.find((r) => r === text);
  if (found === undefined)
    throw new CorralError('invalid_argument', `--role ${text}: use ${OPERATOR_ROLES.join(' or ')}`);
  return found;
}

function audit(ctx: CliContext, action: string, name: string, detail: Record<string, unknown>): void {
  const store = openStore(ctx.home);
  try {
    store.appendAudit({ actor: 'operator:cli', action, subject: `operator:${name}`, detail });
  } finally {
    store.close();
  }
}

export function registerOperator(program: Command, ctx: CliContext): void {
  const cmd = program.command('operator').description('API operators (admin or viewer) and their tokens');
  cmd
    .command('add <name>')
    .description('add an operator (or give one a new token) and print its token once')
    .option('--role <role>', 'admin (everything) or viewer (read only)', 'viewer')
    .action((name: string, opts: { role: string }) => {
      if (!NAME.test(name))
        throw new CorralError(
          'invalid_argument',
          `operator name '${name}': lowercase letters, digits, - and _`,
        );
      const r = role(opts.role);
      const token = `corral_${crypto.randomBytes(32).toString('base64url')}`;
      const replaced = readPolicyFile(ctx.home.policyFile)?.operators[name] !== undefined;
      setPolicyOperator(ctx.home.policyFile, name, { role: r, tokenSha256: sha256Hex(token) });
      audit(ctx, replaced ? 'operator.set' : 'operator.add', name, { role: r });
      ctx.out(token + '\n');
      ctx.err(
        `operator ${name} (${r}) ${replaced ? 'has a new token' : 'added'} in ${ctx.home.policyFile}; ` +
          'the token above is shown only now: hand it over, then clear your terminal\n',
      );
    });
  cmd
    .command('list')
    .description('list operators and their roles')
    .option('--json', 'print JSON')
    .action((opts: { json?: boolean }) => {
      const ops = readPolicyFile(ctx.home.policyFile)?.operators ?? {};
      const rows = Object.entries(ops).map(([name, o]) => ({ name, role: o.role }));
      printTable(
        ctx,
        rows,
        opts.json === true,
        'no operators; add one: corral operator add NAME --role viewer',
      );
    });
  cmd
    .command('rm <name>')
    .description('remove an operator; its token stops working at once')
    .action((name: string) => {
      if (readPolicyFile(ctx.home.policyFile)?.operators[name] === undefined)
        throw new CorralError('operator_unknown', `no operator '${name}'`, 'list them: corral operator list');
      setPolicyOperator(ctx.home.policyFile, name, undefined);
      audit(ctx, 'operator.rm', name, {});
      ctx.err(`operator ${name} removed\n`);
    });
}
