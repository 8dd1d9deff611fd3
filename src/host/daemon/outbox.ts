// Delivers the outbox: each item goes to its channel under its idempotency key, is marked delivered after the
// channel accepted it, and is retried with backoff otherwise. The parts of an item (a long reply split at the
// platform's limit) are journaled in the store, so a crash between sending and marking repeats at most the part
// that was on the wire: under the same key, which is how a webhook receiver recognises it; on a platform without
// keys (Telegram, Slack) that one part may show twice — never none. Event-driven: a timer to the next due item.
import type { DeliveryJournal } from '../../channels/delivery-journal.ts';
import type { OutboxChannel } from '../../channels/types.ts';
import { PermanentDeliveryError } from '../../channels/types.ts';
import type { OutboxRow } from '../../store/daemon-types.ts';
import type { Store } from '../../store/types.ts';
import type { Clock } from '../../util/clock.ts';
import { errorMessage } from '../../util/errors.ts';
import type { Logger } from '../../util/log.ts';
import { withFileContents } from './outbox-files.ts';

export const OUTBOX_BATCH = 32;
export const MAX_DELIVERY_ATTEMPTS = 10;
const FIRST_RETRY_MS = 1_000;
const MAX_RETRY_MS = 5 * 60_000;

export function retryDelayMs(attempts: number): number {
  return Math.min(MAX_RETRY_MS, FIRST_RETRY_MS * 2 ** Math.max(0, attempts - 1));
}

export function createOutbox(deps: {
  store: Store;
  clock: Clock;
  log: Logger;
  channels: Record<string, OutboxChannel>;
  /** channels that come and go while the host runs (channels.yaml is reloaded), looked up at each delivery */
  lookup?: (name: string) => OutboxChannel | undefined;
  onDelivered?: (item: OutboxRow) => void;
}) {
  const { store, clock, log } = deps;
  const inFlight = new Map<string, Promise<void>>();
  const abort = new AbortController();
  let cancelTimer: (() => void) | undefined;
  let stopped = false;

  /** The delivery's journal in the store: each part is recorded before it is sent and once it was confirmed. */
  const journalOf = (item: OutboxRow): DeliveryJournal => {
    const { partsDone, sendingPart } = store.outboxJournal(item.key);
    if (sendingPart !== null)
      log.info('a part of this delivery may have arrived already; sending it again', {
        key: item.key,
        channel: item.channel,
        part: sendingPart,
      });
    return {
      partsDone,
      inDoubt: sendingPart,
      sending: (part) => store.outboxSending(item.key, part),
      sent: (part) => store.outboxPartSent(item.key, part),
    };
  };

  const deliver = async (item: OutboxRow): Promise<void> => {
    const channel = deps.channels[item.channel] ?? deps.lookup?.(item.channel);
    try {
      if (channel === undefined) throw new PermanentDeliveryError(`no channel '${item.channel}'`);
      await channel.deliver(withFileContents(store, item), abort.signal, journalOf(item));
      store.outboxDelivered(item.key);
      deps.onDelivered?.(item);
    } catch (err) {
      if (abort.signal.aborted) return; // cut short by a stop: it goes out again after the restart
      const attempts = item.attempts + 1;
      const giveUp = err instanceof PermanentDeliveryError || attempts >= MAX_DELIVERY_ATTEMPTS;
      const nextAttemptAt = new Date(clock.now().getTime() + retryDelayMs(attempts)).toISOString();
      store.outboxRetry(item.key, { error: errorMessage(err), nextAttemptAt, giveUp });
      log.warn(giveUp ? 'delivery failed; giving up' : 'delivery failed; will retry', {
        key: item.key,
        channel: item.channel,
        attempts,
        err: errorMessage(err),
      });
    }
  };

  function kick(): void {
    if (stopped) return;
    cancelTimer?.();
    cancelTimer = undefined;
    const due = store.dueOutbox(clock.now().toISOString(), OUTBOX_BATCH).filter((o) => !inFlight.has(o.key));
    for (const item of due) {
      const p = deliver(item).finally(() => {
        inFlight.delete(item.key);
        kick(); // more may be due, and the timer must point at the next one
      });
      inFlight.set(item.key, p);
    }
    if (inFlight.size > 0) return; // the last one to finish re-arms the timer
    const next = store.nextOutboxDue();
    if (next === undefined) return;
    cancelTimer = clock.setTimer(Date.parse(next) - clock.now().getTime(), kick);
  }

  return {
    /** Looks for due deliveries now (after a commit that added some) and arms the timer for the next. */
    kick,
    /** Stops retrying; waits up to `graceMs` for deliveries under way. */
    async stop(graceMs: number): Promise<void> {
      stopped = true;
      cancelTimer?.();
      const pending = Promise.allSettled([...inFlight.values()]);
      await Promise.race([pending, new Promise((r) => setTimeout(r, graceMs).unref())]);
      abort.abort();
      await pending;
    },
  };
}

export type Outbox = ReturnType<typeof createOutbox>;
