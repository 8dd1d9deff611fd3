// The chain head as an anchor an operator keeps elsewhere: if rows are later deleted from the end (which the
// chain alone cannot show) or the chain is rewritten, the anchored entry is missing or its hash differs.
import { z } from 'zod';
import type { ChainRecord } from './chain.ts';

export const Anchor = z
  .object({
    seq: z.number().int().positive(),
    hash: z.string().regex(/^[0-9a-f]{64}$/),
    at: z.string(),
    anchoredAt: z.string().optional(),
  })
  .strict();
export type Anchor = z.infer<typeof Anchor>;

export function anchorOf(head: ChainRecord, now: Date): Anchor {
  return { seq: head.seq, hash: head.hash, at: head.at, anchoredAt: now.toISOString() };
}

/** Why the chain does not contain the anchored head, or null when it does. */
export function anchorProblem(anchor: Anchor, entry: ChainRecord | undefined): string | null {
  if (entry === undefined)
    return `entry ${anchor.seq} (anchored with hash ${anchor.hash.slice(0, 12)}…) is gone: rows were removed from the end`;
  if (entry.hash !== anchor.hash || entry.at !== anchor.at)
    return `entry ${anchor.seq} differs from the anchor (hash ${entry.hash.slice(0, 12)}…, anchored ${anchor.hash.slice(0, 12)}…): the chain was rewritten`;
  return null;
}
