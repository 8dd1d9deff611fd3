// corral init: creates $CORRAL_HOME with a default config, the database and the secret key.
import fs from 'node:fs';
import type { Command } from 'commander';
import { saveConfig } from '../../config/config-file.ts';
import { defaultConfig } from '../../config/schema.ts';
import { ensurePrivateDir } from '../../host/agent-dirs.ts';
import { openStore } from '../../host/open.ts';
import { loadOrCreateCa } from '../../gateway/tls/ca.ts';
import { loadOrCreateApiToken } from '../../web/token.ts';
import type { CliContext } from '../context.ts';

export function initHome(ctx: CliContext): boolean {
  const { home } = ctx;
  ensurePrivateDir(home.root, 0o700);
  ensurePrivateDir(home.agentsDir, 0o755);
  ensurePrivateDir(home.dataDir, 0o700);
  const fresh = !fs.existsSync(home.configFile);
  if (fresh) saveConfig(home, defaultConfig());
  openStore(home).close(); // creates corral.db and secret.key (0600) on first use
  loadOrCreateCa(home.root); // the gateway's CA for bound hosts: ca.key (0600) and ca.crt
  loadOrCreateApiToken(home); // api-token (0600): the HTTP API's bearer token
  return fresh;
}

export function registerInit(program: Command, ctx: CliContext): void {
  program
    .command('init')
    .description(
      'create $CORRAL_HOME (default ~/.corral): corral.yaml, corral.db, secret.key, ca.crt, api-token',
    )
    .action(() => {
      const fresh = initHome(ctx);
      ctx.err(`${fresh ? 'created' : 'already set up'}: ${ctx.home.root}\n`);
      if (fresh) {
        ctx.err(
          'next:\n  printf %s "$KEY" | corral secret set ANTHROPIC_API_KEY\n  corral agent add helper\n  corral chat helper\n',
        );
      }
    });
}
