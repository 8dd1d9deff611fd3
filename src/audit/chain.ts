// The audit log's hash chain as pure functions: canonical JSON, the hash of one entry, and chain checks.
// Each entry's hash covers the previous hash, so editing, deleting or reordering a row breaks every later link.
import { createHash } from 'node:crypto';

/** The prevHash of the first entry. */
export const GENESIS = '0'.repeat(64);

export interface ChainFields {
  seq: number;
  at: string;
  actor: string;
  action: string;
  subject: string;
  detail: Record<string, unknown>;
}
export interface ChainRecord extends ChainFields {
  prevHash: string;
  hash: string;
}
export type ChainVerdict = { ok: true; count: number } | { ok: false; brokenAt: number; reason: string };

/**
 * JSON with object keys sorted (UTF-16 code-unit order, as RFC 8785 does), recursively, no whitespace.
 * The value is first put through JSON.stringify/JSON.parse, so toJSON, dropped undefined members,
 * non-finite numbers and cycles behave exactly as in JSON; the output is therefore stable under a
 * JSON.parse round trip, which is what lets a stored entry be re-hashed later.
 */
export function canonicalJson(value: unknown): string {
  const text = JSON.stringify(value);
  if (text === undefined) throw new TypeError(`canonicalJson: a ${typeof value} has no JSON form`);
  const plain: unknown = JSON.parse(text);
  return encode(plain);
}

function encode(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map((item: unknown) => encode(item)).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    const entries: [string, unknown][] = Object.entries(value);
    entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([key, item]) => `${JSON.stringify(key)}:${encode(item)}`).join(',')}}`;
  }
  // After the JSON round trip only strings, finite numbers, booleans and null are left.
  return JSON.stringify(value);
}

/** sha256 hex over the canonical JSON of the entry's fields and the previous entry's hash. */
export function hashEntry(prevHash: string, fields: ChainFields): string {
  const { seq, at, actor, action, subject, detail } = fields;
  const payload = canonicalJson({ prevHash, seq, at, actor, action, subject, detail });
  return createHash('sha256').update(payload, 'utf8').digest('hex');
}

/**
 * hashEntry for a detail already in canonicalJson form: the same payload, with the detail spliced in rather
 * than encoded again (canonicalJson is stable under a round trip, and the other fields are plain JSON values).
 */
export function hashCanonicalEntry(
  prevHash: string,
  fields: Omit<ChainFields, 'detail'>,
  canonicalDetail: string,
): string {
  const { seq, at, actor, action, subject } = fields;
  const j = (v: string | number): string => JSON.stringify(v);
  // The keys in canonicalJson's order (sorted by UTF-16 code unit).
  const payload = `{"action":${j(action)},"actor":${j(actor)},"at":${j(at)},"detail":${canonicalDetail},"prevHash":${j(prevHash)},"seq":${j(seq)},"subject":${j(subject)}}`;
  return createHash('sha256').update(payload, 'utf8').digest('hex');
}

/**
 * Checks one link: `prev` is the entry before `record` (null for the first one).
 * Returns why the link is broken, or null when it holds.
 */
export function checkLink(prev: ChainRecord | null, record: ChainRecord): string | null {
  const expectedSeq = prev === null ? 1 : prev.seq + 1;
  if (record.seq !== expectedSeq) {
    return `sequence gap: expected seq ${expectedSeq}, found ${record.seq} (a row was deleted or moved)`;
  }
  const expectedPrev = prev === null ? GENESIS : prev.hash;
  if (record.prevHash !== expectedPrev) {
    return `prevHash of seq ${record.seq} does not match the hash of the entry before it`;
  }
  if (hashEntry(record.prevHash, record) !== record.hash) {
    return `hash of seq ${record.seq} does not match its content (the row was edited)`;
  }
  return null;
}

/** Verifies a whole chain given oldest first; `brokenAt` is the first seq that does not link. */
export function verifyChain(records: Iterable<ChainRecord>): ChainVerdict {
  let prev: ChainRecord | null = null;
  let count = 0;
  for (const record of records) {
    const reason = checkLink(prev, record);
    if (reason !== null) return { ok: false, brokenAt: prev === null ? 1 : prev.seq + 1, reason };
    prev = record;
    count += 1;
  }
  return { ok: true, count };
}
