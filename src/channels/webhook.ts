// Webhook delivery: a reply (or a failure) is POSTed as JSON with the outbox key as Idempotency-Key, so a
// receiver that sees the same key twice (after a crash of the host) keeps one. Two users: the API's callback
// URLs (unsigned, `createWebhookChannel`) and named webhook channels (signed, src/channels/webhook-channel.ts).
import type { OutboxChannel } from './types.ts';
import { PermanentDeliveryError } from './types.ts';
import { sleep } from './status.ts';
import { signedHeaders } from './webhook-signature.ts';

export const WEBHOOK_TIMEOUT_MS = 10_000;
/** A 429 or 503 asking to wait longer than this goes back to the outbox's own backoff. */
export const MAX_RETRY_AFTER_MS = 60_000;
const MAX_IN_CALL_RETRIES = 3;

/** Statuses worth another try; any other 4xx means the receiver will never take it. */
const RETRYABLE_4XX = new Set([408, 409, 425, 429]);

function retryAfterMs(header: string | null): number | undefined {
  if (header === null) return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const at = Date.parse(header);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

/**
 * POSTs `body` to `url` under `key`; signed when a secret is given. A 429/503 with a short Retry-After is waited
 * out here; other failures throw (PermanentDeliveryError for a 4xx that will never succeed).
 */
export async function postWebhook(
  url: string,
  key: string,
  body: Record<string, unknown>,
  opts: { signal: AbortSignal; secret?: string; timeoutMs?: number; now?: () => Date },
): Promise<void> {
  const text = JSON.stringify(body);
  for (let attempt = 0; ; attempt++) {
    const res = await fetch(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'idempotency-key': key,
        'user-agent': 'corral-webhook/1',
        ...(opts.secret === undefined
          ? {}
          : signedHeaders(opts.secret, text, (opts.now ?? (() => new Date()))())),
      },
      body: text,
      redirect: 'manual',
      signal: AbortSignal.any([opts.signal, AbortSignal.timeout(opts.timeoutMs ?? WEBHOOK_TIMEOUT_MS)]),
    });
    await res.body?.cancel();
    if (res.ok) return;
    const wait =
      res.status === 429 || res.status === 503 ? retryAfterMs(res.headers.get('retry-after')) : undefined;
    if (
      wait !== undefined &&
      wait <= MAX_RETRY_AFTER_MS &&
      attempt < MAX_IN_CALL_RETRIES &&
      !opts.signal.aborted
    ) {
      await sleep(wait, opts.signal);
      continue;
    }
    const why = `webhook ${new URL(url).origin} answered ${res.status}`;
    if (res.status >= 400 && res.status < 500 && !RETRYABLE_4XX.has(res.status))
      throw new PermanentDeliveryError(why);
    throw new Error(why);
  }
}

/** The API's callback URLs: the body is the key and the payload. */
export function createWebhookChannel(opts: { timeoutMs?: number } = {}): OutboxChannel {
  return {
    deliver: (item, signal) =>
      postWebhook(
        item.target,
        item.key,
        { key: item.key, ...item.payload },
        {
          signal,
          ...(opts.timeoutMs === undefined ? {} : { timeoutMs: opts.timeoutMs }),
        },
      ),
  };
}
