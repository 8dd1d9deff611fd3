// A named webhook channel, the generic way to connect anything: inbound `POST /v1/channels/webhook/NAME` signed
// with the channel's key (webhook-signature.ts), answered only after the host committed the message; replies
// POSTed, signed the same way, to the channel's URL with retries and backoff.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import { errorMessage } from '../util/errors.ts';
import type { Logger } from '../util/log.ts';
import { memoryJournal, sendParts } from './delivery-journal.ts';
import { createStatus } from './status.ts';
import type { ChannelAdapter, ChannelSink, InboundMessage } from './types.ts';
import { parseChatDelivery, splitText } from './types.ts';
import { postWebhook } from './webhook.ts';
import { SIGNATURE_HEADER, TIMESTAMP_HEADER, verifySignature } from './webhook-signature.ts';

export const WEBHOOK_MAX_BODY_BYTES = 256 * 1024;
/** A sender without an `id` in its body may name the message here instead; retries must repeat it. */
export const IDEMPOTENCY_HEADER = 'idempotency-key';
/** Longer replies go out in several POSTs (keys KEY:1/N …), so one request stays bounded. */
export const WEBHOOK_TEXT_LIMIT = 64_000;

const Id = z.string().min(1).max(256);
export const WebhookInbound = z
  .object({
    chat: Id.describe('the conversation on the sender’s side; replies name it'),
    thread: Id.optional(),
    sender: z.object({ id: Id, name: z.string().max(256).optional() }).strict(),
    text: z.string().min(1).max(100_000),
    id: Id.optional().describe('the sender’s id of this message'),
  })
  .strict();

export interface WebhookChannelOptions {
  name: string;
  /** the HMAC key both directions are signed with */
  secret: string;
  /** where replies go; absent: replies are only read through the API */
  url?: string;
  log: Logger;
  now?: () => Date;
  timeoutMs?: number;
}

const idempotencyKey = (v: string | undefined): string | undefined => {
  const parsed = Id.safeParse(v);
  return parsed.success ? parsed.data : undefined;
};

function answer(res: ServerResponse, status: number, body: Record<string, unknown>): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body) + '\n');
}

async function readBody(req: IncomingMessage): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const b = Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk));
    size += b.length;
    if (size > WEBHOOK_MAX_BODY_BYTES) return undefined;
    chunks.push(b);
  }
  return Buffer.concat(chunks);
}

export function createWebhookAdapter(
  opts: WebhookChannelOptions,
): ChannelAdapter & { handle(req: IncomingMessage, res: ServerResponse): Promise<void> } {
  const { name, log } = opts;
  const now = opts.now ?? (() => new Date());
  const status = createStatus(name, 'webhook', now);
  let sink: ChannelSink | undefined;
  let seq = 0;
  /** parts of a long reply already accepted, by outbox key, so a retry resumes after them */
  const progress = new Map<string, number>();

  return {
    kind: 'webhook',
    name,
    status: () => status.get(),
    async start(s, signal) {
      sink = s;
      status.set(
        'connected',
        opts.url === undefined ? { detail: 'no reply URL: replies are read with GET' } : {},
      );
      await new Promise<void>((resolve) => {
        if (signal.aborted) return resolve();
        signal.addEventListener('abort', () => resolve(), { once: true });
      });
      sink = undefined;
      status.set('stopped');
    },
    /** The inbound route; never throws (every failure is an answer). */
    async handle(req, res) {
      try {
        if (req.method !== 'POST') return answer(res, 405, { error: 'POST only' });
        const body = await readBody(req);
        if (body === undefined)
          return answer(res, 413, { error: `body over ${WEBHOOK_MAX_BODY_BYTES} bytes` });
        const header = (h: string): string | undefined => {
          const v = req.headers[h];
          return typeof v === 'string' ? v : undefined;
        };
        const verdict = verifySignature(
          opts.secret,
          { signature: header(SIGNATURE_HEADER), timestamp: header(TIMESTAMP_HEADER) },
          body,
          now(),
        );
        if (!verdict.ok) {
          log.warn('webhook request refused', { channel: name, reason: verdict.reason });
          return answer(res, 401, { error: verdict.reason });
        }
        let parsed: z.infer<typeof WebhookInbound>;
        try {
          parsed = WebhookInbound.parse(JSON.parse(body.toString('utf8')));
        } catch (err) {
          log.warn('webhook payload malformed; ignored', {
            channel: name,
            err: errorMessage(err).slice(0, 300),
          });
          return answer(res, 400, {
            error: 'malformed payload: want {chat, sender: {id}, text, thread?, id?}',
          });
        }
        if (sink === undefined) return answer(res, 503, { error: 'the channel is not running' });
        const m: InboundMessage = {
          channel: name,
          chat: parsed.chat,
          ...(parsed.thread === undefined ? {} : { thread: parsed.thread }),
          sender: { id: parsed.sender.id, display: parsed.sender.name ?? parsed.sender.id },
          text: parsed.text,
          direct: true,
          mentioned: false,
          replyToBot: false,
          // the sender's id of the message (body `id`, else its Idempotency-Key): a retry under it is taken once
          platformId:
            parsed.id ?? idempotencyKey(header(IDEMPOTENCY_HEADER)) ?? `${now().getTime()}-${++seq}`,
        };
        const r = await sink.receive(m);
        switch (r.status) {
          case 'queued':
            return answer(res, 202, { status: 'queued', ids: r.messageIds });
          case 'ignored':
            return answer(res, 200, { status: 'ignored', reason: r.reason });
          case 'refused':
            return answer(res, 403, { status: 'refused', reason: r.notice ?? 'refused' });
        }
      } catch (err) {
        // the host cannot take it now (it is stopping): the sender retries
        log.warn('webhook message not taken', { channel: name, err: errorMessage(err) });
        if (!res.headersSent) answer(res, 503, { error: 'not taken now; retry' });
      }
    },
    async deliver(item, signal, journal) {
      const d = parseChatDelivery(item);
      const url = opts.url;
      if (url === undefined) return; // nowhere to push: the reply is in the conversation
      const parts = splitText(d.text, WEBHOOK_TEXT_LIMIT);
      // one POST per part, each under its own key, so a receiver deduplicates parts too (a part in doubt after
      // a crash goes out again under the same key: exactly once for a receiver that keeps keys)
      const posts = parts.map((_, i) => async () => {
        const key = parts.length === 1 ? item.key : `${item.key}:${i + 1}/${parts.length}`;
        const last = i === parts.length - 1;
        const body = {
          key,
          channel: name,
          chat: d.to.chat,
          ...(d.to.thread === undefined ? {} : { thread: d.to.thread }),
          ...(d.to.replyTo === undefined ? {} : { replyTo: d.to.replyTo }),
          status: d.status ?? 'done',
          text: parts[i] ?? '',
          ...(parts.length === 1 ? {} : { part: i + 1, parts: parts.length }),
          files: last ? d.files : [],
        };
        const timeout = opts.timeoutMs === undefined ? {} : { timeoutMs: opts.timeoutMs };
        await postWebhook(url, key, body, { signal, secret: opts.secret, now, ...timeout });
      });
      try {
        await sendParts(posts, journal ?? memoryJournal(progress, item.key), signal);
        progress.delete(item.key);
        status.set('connected');
      } catch (err) {
        status.set('retrying', { detail: `reply delivery failed: ${errorMessage(err)}` });
        throw err;
      }
    },
  };
}
