// HMAC-SHA256 signatures for the webhook channel, both ways: `X-Corral-Signature: sha256=HEX` over
// `TIMESTAMP.BODY`, with `X-Corral-Timestamp` in Unix seconds. Verification is constant-time and refuses a
// timestamp more than five minutes away from now (a replayed request).
import { createHmac, timingSafeEqual } from 'node:crypto';

export const SIGNATURE_HEADER = 'x-corral-signature';
export const TIMESTAMP_HEADER = 'x-corral-timestamp';
export const MAX_SKEW_SECONDS = 5 * 60;

export function signature(secret: string, timestamp: string, body: Buffer | string): string {
  return 'sha256=' + createHmac('sha256', secret).update(`${timestamp}.`).update(body).digest('hex');
}

export function signedHeaders(secret: string, body: string, now: Date): Record<string, string> {
  const timestamp = String(Math.floor(now.getTime() / 1000));
  return { [TIMESTAMP_HEADER]: timestamp, [SIGNATURE_HEADER]: signature(secret, timestamp, body) };
}

export type Verdict = { ok: true } | { ok: false; reason: string };

export function verifySignature(
  secret: string,
  headers: { signature?: string; timestamp?: string },
  body: Buffer,
  now: Date,
): Verdict {
  if (headers.signature === undefined || headers.timestamp === undefined)
    return { ok: false, reason: `unsigned: send ${TIMESTAMP_HEADER} and ${SIGNATURE_HEADER}` };
  if (!/^\d{1,12}$/.test(headers.timestamp)) return { ok: false, reason: 'timestamp is not Unix seconds' };
  const expected = Buffer.from(signature(secret, headers.timestamp, body));
  const given = Buffer.from(headers.signature);
  // compare in constant time; a length mismatch compares the expected value with itself to spend the same time
  const same = given.length === expected.length && timingSafeEqual(given, expected);
  if (given.length !== expected.length) timingSafeEqual(expected, expected);
  if (!same) return { ok: false, reason: 'bad signature' };
  const skew = Math.abs(now.getTime() / 1000 - Number(headers.timestamp));
  if (skew > MAX_SKEW_SECONDS)
    return { ok: false, reason: 'timestamp older than 5 minutes (or in the future)' };
  return { ok: true };
}
