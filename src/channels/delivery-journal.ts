// How far a multi-part delivery (a long reply split at the platform's limit, then its files) got, so a retry — in
// this run or after a crash — sends only what the receiver has not confirmed. The outbox keeps it in the store;
// a caller without one (a test, a direct call) gets one in memory.

/**
 * The outbox's record of one delivery. `sending(i)` is written before part i goes out and `sent(i)` once the
 * receiver confirmed it, so after a crash at most the one part in between is in doubt: it may or may not have
 * arrived, and the platform gives no way to ask (Telegram, Slack), so it is sent again — at least once, never
 * lost. A receiver that deduplicates by key (the webhook's Idempotency-Key) keeps it once.
 */
export interface DeliveryJournal {
  /** parts the receiver confirmed: never sent again */
  readonly partsDone: number;
  /** the part whose sending was recorded and never confirmed (the host died, or the call failed on the way) */
  readonly inDoubt: number | null;
  sending(part: number): void;
  sent(part: number): void;
}

/** A journal kept in `progress` (by outbox key) for this process only. */
export function memoryJournal(progress: Map<string, number>, key: string): DeliveryJournal {
  return {
    partsDone: progress.get(key) ?? 0,
    inDoubt: null,
    sending: () => undefined,
    sent: (part) => void progress.set(key, part + 1),
  };
}

/** Runs the parts not yet confirmed, in order, journaling each before and after it goes out. */
export async function sendParts(
  parts: readonly (() => Promise<unknown>)[],
  journal: DeliveryJournal,
  signal: AbortSignal,
): Promise<void> {
  for (let i = journal.partsDone; i < parts.length; i++) {
    signal.throwIfAborted();
    const part = parts[i];
    if (part === undefined) continue;
    journal.sending(i);
    await part();
    journal.sent(i);
  }
}
