// Telegram's webhook requests as corral takes them: the secret token (set with setWebhook) checked in constant time
// before the body is read, the body bounded and parsed as JSON. What the update says is parsed later (updates.ts).
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

export const SECRET_HEADER = 'x-telegram-bot-api-secret-token';
/** An update is a few KiB; Telegram never sends one near this. */
export const TELEGRAM_WEBHOOK_MAX_BYTES = 1024 * 1024;

/** A secret_token for setWebhook: 43 characters of [A-Za-z0-9_-], as the Bot API allows (1-256). */
export const newWebhookSecret = (): string => randomBytes(32).toString('base64url');

const digest = (text: string): Buffer => createHash('sha256').update(text).digest();

/** Compares hashes, so neither the length nor a prefix of the secret shows in the time taken. */
export function secretMatches(expected: string, given: string | string[] | undefined): boolean {
  if (typeof given !== 'string') return false;
  return timingSafeEqual(digest(expected), digest(given));
}

export type WebhookRequest =
  { ok: true; update: unknown } | { ok: false; status: 401 | 405 | 413 | 400; error: string };

/** The body, or undefined past `limit` (the rest is let go unread; the answer closes the connection). */
function readBounded(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer | string): void => {
      const b = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk);
      size += b.length;
      if (size <= limit) return void chunks.push(b);
      req.off('data', onData);
      req.off('end', onEnd);
      resolve(undefined);
    };
    const onEnd = (): void => resolve(Buffer.concat(chunks));
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', reject);
  });
}

export async function readWebhookUpdate(req: IncomingMessage, secret: string): Promise<WebhookRequest> {
  if (req.method !== 'POST') return { ok: false, status: 405, error: 'POST only' };
  if (!secretMatches(secret, req.headers[SECRET_HEADER]))
    return { ok: false, status: 401, error: 'missing or wrong secret token' };
  const tooLarge = {
    ok: false,
    status: 413,
    error: `body over ${TELEGRAM_WEBHOOK_MAX_BYTES} bytes`,
  } as const;
  if (Number(req.headers['content-length'] ?? 0) > TELEGRAM_WEBHOOK_MAX_BYTES) return tooLarge;
  const body = await readBounded(req, TELEGRAM_WEBHOOK_MAX_BYTES);
  if (body === undefined) return tooLarge;
  try {
    const update: unknown = JSON.parse(body.toString('utf8'));
    return { ok: true, update };
  } catch {
    return { ok: false, status: 400, error: 'the body is not JSON' };
  }
}

export function answer(res: ServerResponse, status: number, body: Record<string, unknown> = {}): void {
  if (res.headersSent) return;
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': String(Buffer.byteLength(text)),
    'cache-control': 'no-store',
    // an answer before the whole body was read: the connection cannot be reused
    ...(status === 413 || status === 401 ? { connection: 'close' } : {}),
  });
  res.end(text);
}
