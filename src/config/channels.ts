// Channel definitions ($CORRAL_HOME/channels.yaml: kind, settings, the paired owner; never a token — tokens
// are sealed in the store) and an agent's channel bindings with their triggers.
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { CorralError } from '../util/errors.ts';
import type { HomePaths } from './home.ts';
import { parseYaml, readRegularFile, writeYaml } from './yaml-file.ts';

/** Names the host uses for its own sources (the HTTP API, callbacks, tasks): no channel may take them. */
const RESERVED = new Set(['api', 'webhook', 'cli', 'web', 'task', 'agent', 'chat']);

export const ChannelName = z
  .string()
  .regex(
    /^[a-z][a-z0-9-]{0,31}$/,
    'use lowercase letters, digits and dashes, starting with a letter (max 32)',
  )
  .refine((n) => !RESERVED.has(n), 'this name is reserved; choose another')
  .describe('channel name, e.g. tg or support-hook');

const HttpUrl = z
  .string()
  .url()
  .refine((u) => /^https?:\/\//.test(u), 'write an http:// or https:// URL')
  .refine((u) => !/^https?:\/\/[^/]*@/.test(u), 'the URL must not contain credentials');

export const TelegramChannel = z
  .object({
    kind: z.literal('telegram'),
    apiRoot: HttpUrl.optional().describe('Bot API root; default https://api.telegram.org'),
    owner: z
      .object({ chat: z.string(), sender: z.string() })
      .strict()
      .optional()
      .describe('the chat that paired with /pair CODE, and who sent it'),
    pairing: z
      .object({ sha256: z.string().regex(/^[0-9a-f]{64}$/), createdAt: z.string() })
      .strict()
      .optional()
      .describe('hash of the one-time pairing code, until a chat uses it'),
    webhook: z
      .object({
        url: HttpUrl.refine((u) => u.startsWith('https://'), 'Telegram posts only to https:// URLs').describe(
          'the public URL Telegram POSTs updates to; route it to /v1/channels/telegram/NAME on corral up',
        ),
      })
      .strict()
      .optional()
      .describe('webhook mode (its secret is sealed in the store); absent: long polling'),
  })
  .strict();

export const WebhookChannel = z
  .object({
    kind: z.literal('webhook'),
    url: HttpUrl.optional().describe(
      'where replies are POSTed (signed); none: replies are only read with GET',
    ),
  })
  .strict();

export const SlackChannel = z
  .object({
    kind: z.literal('slack'),
    apiUrl: HttpUrl.optional().describe('Web API root; default https://slack.com/api/'),
  })
  .strict();

export const ChannelConfig = z.discriminatedUnion('kind', [TelegramChannel, WebhookChannel, SlackChannel]);
export type ChannelConfig = z.infer<typeof ChannelConfig>;

export const ChannelsFile = z
  .object({ channels: z.record(ChannelName, ChannelConfig).default({}) })
  .strict()
  .describe('channels.yaml');
export type ChannelsFile = z.infer<typeof ChannelsFile>;

/** The store's name for a channel's credential (a bot token, a signing key): not a valid SecretName, so no
 * agent can ever be granted it. */
export const channelSecretName = (channel: string, part: 'token' | 'app' | 'webhook' = 'token'): string =>
  part === 'token' ? `channel:${channel}` : `channel:${channel}:${part}`;

export const channelsFile = (home: HomePaths): string => path.join(home.root, 'channels.yaml');

export function loadChannels(home: HomePaths): ChannelsFile {
  const file = channelsFile(home);
  const text = readRegularFile(file);
  return text === undefined ? { channels: {} } : parseYaml(file, text, ChannelsFile);
}

export function saveChannels(home: HomePaths, value: ChannelsFile): void {
  fs.mkdirSync(home.root, { recursive: true });
  writeYaml(
    channelsFile(home),
    ChannelsFile.parse(value),
    '# corral channels; tokens are kept in the store\n',
  );
}

/** A trigger written `/pattern/flags`: compiled, and refused when it is broken or matches the empty text. */
export function compileTrigger(text: string): RegExp {
  const m = /^\/(.+)\/([imsu]*)$/s.exec(text);
  if (m === null)
    throw new CorralError('trigger_invalid', `trigger '${text}' is not mention, all or /pattern/flags`);
  let re: RegExp;
  try {
    re = new RegExp(m[1] ?? '', m[2]);
  } catch (err) {
    throw new CorralError(
      'trigger_invalid',
      `trigger ${text} is not a valid pattern: ${err instanceof Error ? err.message : String(err)}`,
      'write a JavaScript regular expression between slashes, e.g. /^!ask\\b/i',
    );
  }
  if (re.test(''))
    throw new CorralError(
      'trigger_invalid',
      `trigger ${text} matches an empty message, so it would answer everything`,
      'use --trigger all if that is what you want',
    );
  return re;
}

export const Trigger = z
  .string()
  .superRefine((t, ctx) => {
    if (t === 'mention' || t === 'all') return;
    try {
      compileTrigger(t);
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: err instanceof Error ? err.message : String(err) });
    }
  })
  .describe(
    'in groups: mention (or a reply to the bot), all, or /pattern/flags; direct chats always trigger',
  );

export const ChannelBinding = z
  .object({
    channel: ChannelName,
    chat: z.string().min(1).max(256).optional().describe('one chat only; absent: every chat of the channel'),
    trigger: Trigger.default('mention'),
  })
  .strict();
export type ChannelBinding = z.infer<typeof ChannelBinding>;

export const AgentChannels = z
  .array(ChannelBinding)
  .max(64)
  .default([])
  .describe('channels (and chats) whose messages come to this agent');

/** `CHANNEL[:chat]` as written on the command line. */
export function parseBindingTarget(text: string): { channel: string; chat?: string } {
  const i = text.indexOf(':');
  const channel = i < 0 ? text : text.slice(0, i);
  const chat = i < 0 ? undefined : text.slice(i + 1);
  const name = ChannelName.safeParse(channel);
  if (!name.success)
    throw new CorralError(
      'invalid_argument',
      `invalid channel '${channel}': ${name.error.issues[0]?.message}`,
    );
  if (chat === '') throw new CorralError('invalid_argument', `write --channel ${channel} or ${channel}:CHAT`);
  return chat === undefined ? { channel } : { channel, chat };
}

/** `CHANNEL:CHAT`: the one chat where an agent's approvals are shown (src/host/daemon/approval-notices.ts). */
export const AdminChannel = z
  .string()
  .max(300)
  .superRefine((t, ctx) => {
    try {
      if (parseBindingTarget(t).chat === undefined)
        ctx.addIssue({
          code: 'custom',
          message: `write ${t}:CHAT — approvals go to one chat of the channel`,
        });
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: err instanceof Error ? err.message : String(err) });
    }
  })
  .describe('CHANNEL:CHAT where approvals of this agent are shown with their complete request');
