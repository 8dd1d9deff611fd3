// corral channel add|list|rm: Telegram bots, Slack apps and webhook endpoints agents can be bound to. Tokens come
// from standard input or a hidden prompt (never argv or the environment) and are sealed in the store.
import { randomBytes, randomInt } from 'node:crypto';
import type { Command } from 'commander';
import type { ChannelConfig } from '../../config/channels.ts';
import { ChannelName, channelSecretName, loadChannels, saveChannels } from '../../config/channels.ts';
import { listAgentNames, loadAgent } from '../../config/agent-files.ts';
import { channelStatusFile, sha256Hex } from '../../host/channels/channel-host.ts';
import { readDaemonInfo } from '../../host/daemon/pidfile.ts';
import { openStore } from '../../host/open.ts';
import { CorralError } from '../../util/errors.ts';
import type { CliContext } from '../context.ts';
import { printTable } from '../context.ts';
import { readChannelStatus } from './channel-status.ts';
import { parseSlackTokens } from '../../channels/slack/tokens.ts';
import { newWebhookSecret } from '../../channels/telegram/webhook.ts';
import { forgetTelegramWebhook } from './channel-webhook.ts';

const MAX_TOKEN_BYTES = 4096;
const PAIRING_ALPHABET = 'ABCDEFGHJKLMNPQRSTUVWXYZ23456789';

/** Reads a token: all of standard input when piped, else a hidden prompt on the terminal. */
export async function readToken(ctx: CliContext, prompt: string): Promise<string> {
  const stdin = process.stdin;
  if (!stdin.isTTY) {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const c of stdin) {
      const b = Buffer.isBuffer(c) ? c : Buffer.from(String(c));
      size += b.length;
      if (size > MAX_TOKEN_BYTES)
        throw new CorralError('token_too_big', `a token is at most ${MAX_TOKEN_BYTES} bytes`);
      chunks.push(b);
    }
    return Buffer.concat(chunks).toString('utf8').trim();
  }
  ctx.err(prompt);
  stdin.setRawMode(true);
  stdin.resume();
  try {
    let text = '';
    for await (const c of stdin) {
      const s = Buffer.isBuffer(c) ? c.toString('utf8') : String(c);
      for (const ch of s) {
        if (ch === '\u0003') throw new CorralError('cancelled', 'cancelled');
        if (ch === '\r' || ch === '\n') return text.trim();
        text = ch === '\u007f' ? text.slice(0, -1) : text + ch;
      }
    }
    return text.trim();
  } finally {
    stdin.setRawMode(false);
    stdin.pause();
    ctx.err('\n');
  }
}

function pairingCode(): string {
  const pick = (): string => PAIRING_ALPHABET[randomInt(PAIRING_ALPHABET.length)] ?? 'A';
  const half = (): string => Array.from({ length: 4 }, pick).join('');
  return `${half()}-${half()}`;
}

function checkName(name: string): string {
  const r = ChannelName.safeParse(name);
  if (!r.success)
    throw new CorralError(
      'invalid_argument',
      `invalid channel name '${name}': ${r.error.issues[0]?.message}`,
    );
  return r.data;
}

function httpUrl(url: string | undefined, flag: string): string | undefined {
  if (url === undefined) return undefined;
  if (!/^https?:\/\/[^/@\s]+(\/\S*)?$/.test(url))
    throw new CorralError('invalid_argument', `${flag} must be an http(s) URL without credentials`);
  return url;
}

interface AddOptions {
  replace?: boolean;
  apiRoot?: string;
  url?: string;
  webhookUrl?: string;
}

/** What happens next: a running host follows channels.yaml, otherwise the next `corral up` reads it. */
const takesEffect = (ctx: CliContext, what: string): string =>
  readDaemonInfo(ctx.home) === undefined
    ? `; corral up ${what} when it starts`
    : `; the running corral up ${what} now (no restart)`;

export function registerChannel(program: Command, ctx: CliContext): void {
  const channel = program
    .command('channel')
    .description('Telegram, Slack and webhook channels agents can be bound to');
  channel
    .command('add <kind> <name>')
    .description('add a channel: telegram (bot token on stdin), slack (bot and app tokens on stdin), webhook')
    .option('--replace', 'replace the token of an existing channel (a Telegram owner stays paired)')
    .option(
      '--api-root <url>',
      'telegram: the Bot API root (default https://api.telegram.org); slack: Web API root',
    )
    .option('--url <url>', 'webhook: where replies are POSTed (signed)')
    .option(
      '--webhook-url <url>',
      'telegram: webhook mode, Telegram POSTs updates to this https URL (route it to /v1/channels/telegram/NAME); default: long polling',
    )
    .action(async (kind: string, rawName: string, opts: AddOptions) => {
      const name = checkName(rawName);
      const file = loadChannels(ctx.home);
      const existing = file.channels[name];
      if (existing !== undefined && opts.replace !== true)
        throw new CorralError(
          'channel_exists',
          `channel ${name} exists`,
          `corral channel add ${kind} ${name} --replace`,
        );
      if (existing !== undefined && existing.kind !== kind)
        throw new CorralError(
          'channel_exists',
          `channel ${name} is a ${existing.kind} channel`,
          `corral channel rm ${name} first`,
        );
      const apiRoot = httpUrl(opts.apiRoot, '--api-root');
      const webhookUrl = httpUrl(opts.webhookUrl, '--webhook-url');
      if (webhookUrl !== undefined && (kind !== 'telegram' || !webhookUrl.startsWith('https://')))
        throw new CorralError(
          'invalid_argument',
          kind === 'telegram'
            ? 'Telegram posts only to https:// URLs'
            : '--webhook-url is for telegram channels',
          kind === 'telegram'
            ? 'put an https reverse proxy in front of corral up'
            : 'use --url for a webhook channel',
        );
      const drop: string[] = [];
      const secrets: [string, string][] = [];
      let config: ChannelConfig;
      let pairing: string | undefined;
      let generated: string | undefined;
      switch (kind) {
        case 'telegram': {
          const token = await readToken(ctx, `Telegram bot token for ${name} (from @BotFather): `);
          if (!/^\d{3,}:[A-Za-z0-9_-]{20,}$/.test(token))
            throw new CorralError(
              'token_invalid',
              'that does not look like a Telegram bot token (123456:ABC…)',
              'copy it from @BotFather and pipe it in: corral channel add telegram NAME < token.txt',
            );
          secrets.push([channelSecretName(name), token]);
          // a fresh secret each time: Telegram gets it with setWebhook when the channel (re)starts
          if (webhookUrl !== undefined)
            secrets.push([channelSecretName(name, 'webhook'), newWebhookSecret()]);
          else drop.push(channelSecretName(name, 'webhook'));
          const owner = existing?.kind === 'telegram' ? existing.owner : undefined;
          if (owner === undefined) pairing = pairingCode();
          config = {
            kind: 'telegram',
            ...(apiRoot === undefined ? {} : { apiRoot }),
            ...(webhookUrl === undefined ? {} : { webhook: { url: webhookUrl } }),
            ...(owner === undefined ? {} : { owner }),
            ...(pairing === undefined
              ? {}
              : { pairing: { sha256: sha256Hex(pairing), createdAt: new Date().toISOString() } }),
          };
          break;
        }
        case 'slack': {
          const { botToken: bot, appToken: app } = parseSlackTokens(
            await readToken(
              ctx,
              `Slack bot token (xoxb-…) and app token (xapp-…) for ${name}, space-separated: `,
            ),
          );
          secrets.push([channelSecretName(name), bot], [channelSecretName(name, 'app'), app]);
          config = { kind: 'slack', ...(apiRoot === undefined ? {} : { apiUrl: apiRoot }) };
          break;
        }
        case 'webhook': {
          const url = httpUrl(opts.url, '--url');
          let key = process.stdin.isTTY ? '' : await readToken(ctx, '');
          if (key === '') key = generated = randomBytes(32).toString('hex');
          if (key.length < 16)
            throw new CorralError('token_invalid', 'a signing key needs at least 16 characters');
          secrets.push([channelSecretName(name), key]);
          config = { kind: 'webhook', ...(url === undefined ? {} : { url }) };
          break;
        }
        default:
          throw new CorralError(
            'invalid_argument',
            `unknown channel kind '${kind}'`,
            'use telegram, slack or webhook',
          );
      }
      const store = openStore(ctx.home);
      try {
        for (const [secret, value] of secrets) store.putSecret(secret, value);
        for (const secret of drop) store.deleteSecret(secret);
        file.channels[name] = config;
        saveChannels(ctx.home, file);
        store.appendAudit({
          actor: 'operator',
          action: existing ? 'channel.replace' : 'channel.add',
          subject: name,
          detail: { kind },
        });
      } finally {
        store.close();
      }
      ctx.err(
        `channel ${name} (${kind}) ${existing ? 'updated' : 'added'}${takesEffect(ctx, existing ? 'restarts it' : 'starts it')}\n`,
      );
      if (webhookUrl !== undefined)
        ctx.err(
          `webhook mode: Telegram POSTs to ${webhookUrl}; route it to POST /v1/channels/telegram/${name} on corral up (see docs/channels.md)\n`,
        );
      if (pairing !== undefined)
        ctx.out(
          `pairing code: ${pairing}\nsend "/pair ${pairing}" to the bot from the chat that owns it (one use)\n`,
        );
      if (generated !== undefined)
        ctx.out(`signing key (shown once; the sender signs with it): ${generated}\n`);
      if (kind === 'webhook') ctx.err(`inbound: POST /v1/channels/webhook/${name} (see docs/channels.md)\n`);
      ctx.err(`bind an agent: corral agent set AGENT --channel ${name}\n`);
    });

  channel
    .command('list')
    .description('list channels, their owner, bound agents and state')
    .option('--json', 'print JSON')
    .action((opts: { json?: boolean }) => {
      const file = loadChannels(ctx.home);
      const live =
        readDaemonInfo(ctx.home) === undefined ? undefined : readChannelStatus(channelStatusFile(ctx.home));
      const bindings = new Map<string, string[]>();
      for (const a of listAgentNames(ctx.home)) {
        try {
          for (const b of loadAgent(ctx.home, a).channels)
            bindings.set(b.channel, [
              ...(bindings.get(b.channel) ?? []),
              b.chat === undefined ? a : `${a}(${b.chat})`,
            ]);
        } catch {
          // a broken agent file is reported by corral agent list and doctor
        }
      }
      const rows = Object.entries(file.channels).map(([name, c]) => {
        const s = live?.find((x) => x.name === name);
        return {
          name,
          kind: c.kind,
          owner: c.kind === 'telegram' ? (c.owner?.chat ?? (c.pairing ? 'unpaired' : null)) : null,
          agents: bindings.get(name) ?? [],
          state: s === undefined ? 'not running' : s.state,
          since: s?.since ?? null,
        };
      });
      if (opts.json === true) return printTable(ctx, rows, true, '');
      printTable(
        ctx,
        rows.map((r) => ({ ...r, agents: r.agents.join(',') || '-' })),
        false,
        'no channels: corral channel add telegram NAME',
      );
    });

  channel
    .command('rm <name>')
    .description('remove a channel and its token')
    .action(async (rawName: string) => {
      const name = checkName(rawName);
      const file = loadChannels(ctx.home);
      const removed = file.channels[name];
      if (removed === undefined)
        throw new CorralError('channel_unknown', `no channel named ${name}`, 'corral channel list');
      const hostRunning = readDaemonInfo(ctx.home) !== undefined;
      delete file.channels[name];
      saveChannels(ctx.home, file);
      const store = openStore(ctx.home);
      try {
        // a running host deletes a Telegram webhook itself when it sees the channel go; otherwise we do
        const token = store.readSecret(channelSecretName(name));
        if (
          removed.kind === 'telegram' &&
          removed.webhook !== undefined &&
          !hostRunning &&
          token !== undefined
        )
          await forgetTelegramWebhook(ctx, token, removed.apiRoot);
        store.deleteSecret(channelSecretName(name));
        store.deleteSecret(channelSecretName(name, 'app'));
        store.deleteSecret(channelSecretName(name, 'webhook'));
        store.appendAudit({ actor: 'operator', action: 'channel.rm', subject: name });
      } finally {
        store.close();
      }
      const still = listAgentNames(ctx.home).filter((a) => {
        try {
          return loadAgent(ctx.home, a).channels.some((b) => b.channel === name);
        } catch {
          return false;
        }
      });
      ctx.err(`channel ${name} removed${hostRunning ? '; the running corral up stops it now' : ''}\n`);
      if (still.length > 0)
        ctx.err(
          `note: still bound: ${still.map((a) => `corral agent set ${a} --unbind ${name}`).join('; ')}\n`,
        );
    });
}
