// corral provider add|list|rm: model endpoints (Anthropic, OpenAI, or any compatible server such as Ollama or vLLM).
import type { Command } from 'commander';
import { loadConfig, saveConfig } from '../../config/config-file.ts';
import { ProviderName } from '../../config/names.ts';
import { CorralConfig, ProviderConfig } from '../../config/schema.ts';
import { CorralError } from '../../util/errors.ts';
import type { CliContext } from '../context.ts';
import { printTable } from '../context.ts';

function parseOrThrow<T>(
  what: string,
  r:
    | { success: true; data: T }
    | { success: false; error: { issues: { path: PropertyKey[]; message: string }[] } },
): T {
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  throw new CorralError(
    'invalid_argument',
    `${what}: ${issue?.path.map(String).join('.') ?? ''} ${issue?.message ?? 'invalid'}`.trim(),
  );
}

export function registerProvider(program: Command, ctx: CliContext): void {
  const provider = program.command('provider').description('model endpoints agents can use');
  provider
    .command('add <name>')
    .description('add or replace a provider')
    .requiredOption('--kind <kind>', 'anthropic | openai (the wire protocol it speaks)')
    .requiredOption('--base-url <url>', 'API base URL, e.g. http://localhost:11434/v1 for Ollama')
    .requiredOption('--key-secret <name>', 'name of the secret holding its API key')
    .action((name: string, opts: { kind: string; baseUrl: string; keySecret: string }) => {
      const checked = parseOrThrow('provider name', ProviderName.safeParse(name));
      const route = parseOrThrow(
        `provider ${checked}`,
        ProviderConfig.safeParse({ kind: opts.kind, baseUrl: opts.baseUrl, keySecret: opts.keySecret }),
      );
      const config = loadConfig(ctx.home);
      saveConfig(
        ctx.home,
        CorralConfig.parse({ ...config, providers: { ...config.providers, [checked]: route } }),
      );
      ctx.err(`provider ${checked} → ${route.baseUrl} (${route.kind}, key from secret ${route.keySecret})\n`);
    });
  provider
    .command('list')
    .description('list providers')
    .option('--json', 'print JSON')
    .action((opts: { json?: boolean }) => {
      const rows = Object.entries(loadConfig(ctx.home).providers).map(([name, p]) => ({
        name,
        kind: p.kind,
        baseUrl: p.baseUrl,
        keySecret: p.keySecret,
      }));
      printTable(ctx, rows, opts.json === true, 'no providers');
    });
  provider
    .command('rm <name>')
    .description('remove a provider')
    .action((name: string) => {
      const config = loadConfig(ctx.home);
      if (config.providers[name] === undefined)
        throw new CorralError('provider_unknown', `no provider named ${name}`);
      const providers = Object.fromEntries(Object.entries(config.providers).filter(([n]) => n !== name));
      saveConfig(ctx.home, { ...config, providers });
    });
}
