// corral secret set|list|rm: values come from stdin, are encrypted at rest, and are never printed.
import type { Command } from 'commander';
import { SecretName } from '../../config/names.ts';
import { openStore } from '../../host/open.ts';
import { CorralError } from '../../util/errors.ts';
import type { CliContext } from '../context.ts';
import { printTable } from '../context.ts';
import { collect } from './agent-set.ts';
import { bindingFrom, withBindings } from './secret-bind.ts';
import type { BindOptions } from './secret-bind.ts';

const MAX_SECRET_BYTES = 64 * 1024;

async function readStdin(): Promise<string> {
  if (process.stdin.isTTY) {
    throw new CorralError(
      'secret_no_input',
      'secret value expected on standard input',
      'printf %s "$VALUE" | corral secret set NAME',
    );
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of process.stdin) {
    const b = Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk));
    size += b.length;
    if (size > MAX_SECRET_BYTES)
      throw new CorralError('secret_too_big', `secret values are limited to ${MAX_SECRET_BYTES} bytes`);
    chunks.push(b);
  }
  // A trailing newline from `echo` is almost never part of a key.
  return Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
}

function checkName(name: string): string {
  const r = SecretName.safeParse(name);
  if (!r.success)
    throw new CorralError(
      'secret_name_invalid',
      `invalid secret name '${name}': ${r.error.issues[0]?.message}`,
    );
  return r.data;
}

export function registerSecret(program: Command, ctx: CliContext): void {
  const secret = program
    .command('secret')
    .description('store credentials the gateway injects; agents never see them');
  secret
    .command('set <name>')
    .description('set a secret from standard input; --host binds it to the hosts it may be sent to')
    .option(
      '--host <pattern>',
      'host, *.host or host:port the value may be sent to (repeatable; plain HTTP only with a port)',
      collect,
      [],
    )
    .option('--header <template>', "header the gateway sets on those hosts, e.g. 'Authorization: Bearer {}'")
    .option('--unbind', 'remove the host binding: the value is then sent nowhere')
    .action(async (name: string, opts: BindOptions) => {
      const checked = checkName(name);
      const binding = bindingFrom(opts);
      const value = await readStdin();
      if (value === '')
        throw new CorralError(
          'secret_empty',
          'empty secret value',
          'printf %s "$VALUE" | corral secret set NAME',
        );
      const store = openStore(ctx.home);
      try {
        store.putSecret(checked, value);
        if (binding !== undefined) store.setSecretBinding(checked, binding);
        const detail = binding === undefined ? {} : { binding };
        store.appendAudit({ actor: 'operator', action: 'secret.set', subject: checked, detail });
      } finally {
        store.close();
      }
      ctx.err(`secret ${checked} set\n`);
    });
  secret
    .command('list')
    .description('list secret names (never values)')
    .option('--json', 'print JSON')
    .action((opts: { json?: boolean }) => {
      const store = openStore(ctx.home);
      try {
        printTable(ctx, withBindings(store), opts.json === true, 'no secrets');
      } finally {
        store.close();
      }
    });
  secret
    .command('rm <name>')
    .description('delete a secret')
    .action((name: string) => {
      const store = openStore(ctx.home);
      try {
        if (!store.deleteSecret(checkName(name)))
          throw new CorralError('secret_unknown', `no secret named ${name}`);
        store.appendAudit({ actor: 'operator', action: 'secret.rm', subject: name });
      } finally {
        store.close();
      }
    });
}
