// The webhook channel: a reply (or a failure) is POSTed as JSON to the URL the sender gave, with the outbox
// key as Idempotency-Key, so a receiver that sees the same key twice (after a crash of the host) keeps one.
import type { OutboxChannel } from './types.ts';
import { PermanentDeliveryError } from './types.ts';

export const WEBHOOK_TIMEOUT_MS = 10_000;

/** Statuses worth another try; any other 4xx means the receiver will never take it. */
const RETRYABLE_4XX = new Set([408, 409, 425, 429]);

export function createWebhookChannel(opts: { timeoutMs?: number } = {}): OutboxChannel {
  return {
    async deliver(item, signal) {
      const res = await fetch(item.target, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'idempotency-key': item.key,
          'user-agent': 'corral-webhook/1',
        },
        body: JSON.stringify({ key: item.key, ...item.payload }),
        redirect: 'manual',
        signal: AbortSignal.any([signal, AbortSignal.timeout(opts.timeoutMs ?? WEBHOOK_TIMEOUT_MS)]),
      });
      await res.body?.cancel();
      if (res.ok) return;
      const why = `webhook ${item.target} answered ${res.status}`;
      if (res.status >= 400 && res.status < 500 && !RETRYABLE_4XX.has(res.status))
        throw new PermanentDeliveryError(why);
      throw new Error(why);
    },
  };
}
