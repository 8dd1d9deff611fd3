// The outbox over a real store with a fake clock: delivery under the key, retries with backoff, giving up, the
// timer pointing at the next due item, and the real webhook channel against a local receiver.
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sendParts } from '../../channels/delivery-journal.ts';
import { PermanentDeliveryError } from '../../channels/types.ts';
import type { OutboxChannel } from '../../channels/types.ts';
import { createWebhookChannel } from '../../channels/webhook.ts';
import type { OutboxRow } from '../../store/daemon-types.ts';
import { openSqliteStore } from '../../store/sqlite.ts';
import type { Store } from '../../store/types.ts';
import { createFakeClock } from '../../util/clock.ts';
import type { FakeClock } from '../../util/clock.ts';
import { silentLogger } from '../../util/log.ts';
import { createOutbox, MAX_DELIVERY_ATTEMPTS, retryDelayMs } from './outbox.ts';
import { unsentDelivery } from '../../store/daemon-types.ts';

let store: Store;
let clock: FakeClock;
beforeEach(() => {
  clock = createFakeClock('2026-05-01T00:00:00.000Z');
  store = openSqliteStore({ path: ':memory:', secretKey: randomBytes(32), clock: () => clock.now() });
});
afterEach(() => store.close());

/** A failed message with one webhook delivery waiting, as a turn's commit leaves it. */
function pendingDelivery(target = 'http://127.0.0.1:9/hook'): string {
  const m = store.acceptMessage({
    agent: 'a',
    sessionKey: 'api:x',
    kind: 'user',
    source: 'api',
    text: 'hi',
    queued: true,
  });
  store.startMessage(m.id);
  const key = `reply:${m.id}`;
  store.failMessage({
    messageId: m.id,
    runId: null,
    error: 'boom',
    outbox: [{ key, messageId: m.id, channel: 'webhook', target, payload: { status: 'failed' } }],
  });
  return key;
}

function scripted(results: ('ok' | 'fail' | 'permanent')[]): OutboxChannel & { seen: OutboxRow[] } {
  const seen: OutboxRow[] = [];
  return {
    seen,
    deliver(item) {
      seen.push(item);
      const r = results.shift() ?? 'ok';
      if (r === 'ok') return Promise.resolve();
      return Promise.reject(
        r === 'permanent' ? new PermanentDeliveryError('410 gone') : new Error('refused'),
      );
    },
  };
}

describe('outbox', () => {
  it('delivers once, and retries a failure after its backoff, not before', async () => {
    const key = pendingDelivery();
    const channel = scripted(['fail', 'fail', 'ok']);
    const outbox = createOutbox({ store, clock, log: silentLogger, channels: { webhook: channel } });
    outbox.kick();
    await clock.advance(0);
    expect(channel.seen).toHaveLength(1);
    expect(store.getOutbox(key)).toMatchObject({ status: 'pending', attempts: 1, lastError: 'refused' });
    await clock.advance(retryDelayMs(1) - 1);
    expect(channel.seen).toHaveLength(1);
    await clock.advance(1);
    expect(channel.seen).toHaveLength(2);
    await clock.advance(retryDelayMs(2));
    expect(channel.seen.map((s) => s.key)).toEqual([key, key, key]);
    expect(store.getOutbox(key)).toMatchObject({ status: 'delivered', attempts: 3 });
    await clock.advance(3_600_000);
    expect(channel.seen).toHaveLength(3);
    expect(clock.pending()).toBe(0); // nothing left to wait for: no timer
  });

  it('gives up on a permanent refusal, and after the last attempt', async () => {
    const gone = pendingDelivery();
    const flaky = pendingDelivery('http://127.0.0.1:9/other');
    const results: Record<string, ('ok' | 'fail' | 'permanent')[]> = {
      [gone]: ['permanent'],
      [flaky]: Array<'fail'>(MAX_DELIVERY_ATTEMPTS).fill('fail'),
    };
    const outbox = createOutbox({
      store,
      clock,
      log: silentLogger,
      channels: {
        webhook: {
          deliver: (item) => scripted(results[item.key] ?? []).deliver(item, new AbortController().signal),
        },
      },
    });
    outbox.kick();
    await clock.advance(24 * 3_600_000);
    expect(store.getOutbox(gone)).toMatchObject({ status: 'failed', attempts: 1, lastError: '410 gone' });
    expect(store.getOutbox(flaky)).toMatchObject({ status: 'failed', attempts: MAX_DELIVERY_ATTEMPTS });
  });

  it('journals the parts of a delivery: a retry resumes after the confirmed ones; after a crash only the part in doubt goes again', async () => {
    const key = pendingDelivery();
    const wire: string[] = [];
    let failOnce = 'p1';
    const journals: { partsDone: number; inDoubt: number | null }[] = [];
    const parted: OutboxChannel = {
      async deliver(_item, signal, journal) {
        if (journal === undefined) throw new Error('the outbox always passes its journal');
        journals.push({ partsDone: journal.partsDone, inDoubt: journal.inDoubt });
        const part = (name: string) => () => {
          if (name === failOnce) {
            failOnce = '';
            return Promise.reject(new Error('connection reset'));
          }
          wire.push(name);
          return Promise.resolve();
        };
        await sendParts([part('p0'), part('p1'), part('p2')], journal, signal);
      },
    };
    const outbox = createOutbox({ store, clock, log: silentLogger, channels: { webhook: parted } });
    outbox.kick();
    await clock.advance(0);
    expect(wire).toEqual(['p0']);
    expect(store.outboxJournal(key)).toEqual({ partsDone: 1, sendingPart: 1 });
    await clock.advance(retryDelayMs(1));
    expect(wire).toEqual(['p0', 'p1', 'p2']);
    expect(journals).toEqual([
      { partsDone: 0, inDoubt: null },
      { partsDone: 1, inDoubt: 1 },
    ]);
    expect(store.getOutbox(key)?.status).toBe('delivered');

    // a host killed while part 2 of another delivery was on the wire: the next host sends part 2 alone
    const crashed = pendingDelivery('http://127.0.0.1:9/other');
    store.outboxSending(crashed, 0);
    store.outboxPartSent(crashed, 0);
    store.outboxPartSent(crashed, 1);
    store.outboxSending(crashed, 2);
    wire.length = 0;
    journals.length = 0;
    const next = createOutbox({ store, clock, log: silentLogger, channels: { webhook: parted } });
    next.kick();
    await clock.advance(0);
    expect(journals).toEqual([{ partsDone: 2, inDoubt: 2 }]);
    expect(wire).toEqual(['p2']);
    expect(store.getOutbox(crashed)?.status).toBe('delivered');
    await outbox.stop(0);
    await next.stop(0);
  });

  it('webhook: POSTs the payload with the key as Idempotency-Key; a 4xx is permanent, a 5xx is retried', async () => {
    const got: { key: string | undefined; body: string }[] = [];
    let status = 204;
    const server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        got.push({ key: req.headers['idempotency-key']?.toString(), body });
        res.writeHead(status).end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const addr = server.address();
    const url = `http://127.0.0.1:${addr !== null && typeof addr === 'object' ? addr.port : 0}/hook`;
    try {
      const hook = createWebhookChannel();
      const item: OutboxRow = {
        key: 'reply:m1',
        messageId: 'm1',
        channel: 'webhook',
        target: url,
        payload: { status: 'done', reply: 'hi' },
        ...unsentDelivery(''),
      };
      const signal = new AbortController().signal;
      await hook.deliver(item, signal);
      expect(got).toEqual([
        { key: 'reply:m1', body: JSON.stringify({ key: 'reply:m1', status: 'done', reply: 'hi' }) },
      ]);
      status = 503;
      await expect(hook.deliver(item, signal)).rejects.not.toBeInstanceOf(PermanentDeliveryError);
      status = 404;
      await expect(hook.deliver(item, signal)).rejects.toBeInstanceOf(PermanentDeliveryError);
    } finally {
      server.close();
    }
  });
});
