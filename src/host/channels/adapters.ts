// One channel of channels.yaml made into its adapter: its credentials unsealed from the store, its inbound HTTP
// route (webhook channels, Telegram in webhook mode), and a fingerprint of everything it was built from, so a
// reload restarts exactly the channels whose settings or credentials changed.
import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createSlackChannel } from '../../channels/slack/adapter.ts';
import type { TelegramPairing } from '../../channels/telegram/telegram.ts';
import { createTelegramChannel } from '../../channels/telegram/telegram.ts';
import type { ChannelAdapter, ChannelStatus } from '../../channels/types.ts';
import { createWebhookAdapter } from '../../channels/webhook-channel.ts';
import type { ChannelConfig } from '../../config/channels.ts';
import { channelSecretName } from '../../config/channels.ts';
import type { Store } from '../../store/types.ts';
import type { Logger } from '../../util/log.ts';

/** Inbound HTTP for a channel: POST /v1/channels/KIND/NAME. */
export interface ChannelRoute {
  kind: 'webhook' | 'telegram';
  handle(req: IncomingMessage, res: ServerResponse): Promise<void>;
}

export interface BuiltChannel {
  adapter: ChannelAdapter;
  route?: ChannelRoute;
  /** Called once when the channel is removed from channels.yaml (not on a restart or a host stop). */
  removed?: () => Promise<void>;
  fingerprint: string;
}

/**
 * What a running channel depends on: its settings except the pairing state (which the host itself writes back
 * when a chat pairs, and which must not restart the bot), and a hash of its credentials (`--replace`).
 */
const sha256Hex = (text: string): string => createHash('sha256').update(text).digest('hex');

export function channelFingerprint(name: string, cfg: ChannelConfig, store: Store): string {
  const settings: Record<string, unknown> = { ...cfg };
  delete settings['owner'];
  delete settings['pairing'];
  const secrets = (['token', 'app', 'webhook'] as const).map((part) => {
    const s = store.readSecret(channelSecretName(name, part));
    return s === undefined ? null : sha256Hex(s);
  });
  return sha256Hex(JSON.stringify([settings, secrets]));
}

export function buildChannel(
  name: string,
  cfg: ChannelConfig,
  deps: { store: Store; log: Logger; pairing: TelegramPairing },
): BuiltChannel | ChannelStatus {
  const read = (part: 'token' | 'app' | 'webhook'): string | undefined =>
    deps.store.readSecret(channelSecretName(name, part));
  const token = read('token');
  const missing = (what: string): ChannelStatus => ({
    name,
    kind: cfg.kind,
    state: 'failed',
    since: new Date().toISOString(),
    detail: `no ${what} stored`,
    fix: `corral channel add ${cfg.kind} ${name} --replace${
      cfg.kind === 'telegram' && cfg.webhook !== undefined ? ` --webhook-url ${cfg.webhook.url}` : ''
    }`,
  });
  if (token === undefined) return missing('token');
  const log = deps.log.child({ channel: name });
  const fingerprint = channelFingerprint(name, cfg, deps.store);
  switch (cfg.kind) {
    case 'telegram': {
      const secret = cfg.webhook === undefined ? undefined : read('webhook');
      if (cfg.webhook !== undefined && secret === undefined) return missing('webhook secret');
      const tg = createTelegramChannel({
        name,
        token,
        log,
        pairing: deps.pairing,
        ...(cfg.apiRoot === undefined ? {} : { apiRoot: cfg.apiRoot }),
        ...(cfg.webhook === undefined || secret === undefined
          ? {}
          : { webhook: { url: cfg.webhook.url, secret } }),
      });
      return {
        adapter: tg,
        ...(cfg.webhook === undefined
          ? {}
          : {
              route: { kind: 'telegram', handle: (req, res) => tg.handleWebhook(req, res) },
              removed: () => tg.deleteWebhook(),
            }),
        fingerprint,
      };
    }
    case 'webhook': {
      const w = createWebhookAdapter({
        name,
        secret: token,
        log,
        ...(cfg.url === undefined ? {} : { url: cfg.url }),
      });
      return {
        adapter: w,
        route: { kind: 'webhook', handle: (req, res) => w.handle(req, res) },
        fingerprint,
      };
    }
    case 'slack': {
      const appToken = read('app');
      if (appToken === undefined) return missing('app token');
      return {
        adapter: createSlackChannel({
          name,
          botToken: token,
          appToken,
          log,
          ...(cfg.apiUrl === undefined ? {} : { apiUrl: cfg.apiUrl }),
        }),
        fingerprint,
      };
    }
  }
}
