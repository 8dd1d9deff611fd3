// The channel port for outgoing messages: the host's outbox hands each item to the channel it names.
import type { OutboxRow } from '../store/daemon-types.ts';

export interface OutboxChannel {
  /** Resolves once the receiver accepted the item; throws to retry, or a PermanentDeliveryError to give up. */
  deliver(item: OutboxRow, signal: AbortSignal): Promise<void>;
}

/** The receiver will never take this item (a 4xx, an unknown channel): no retry. */
export class PermanentDeliveryError extends Error {}
