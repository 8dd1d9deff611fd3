// Checks every state-changing dashboard request must pass: it comes from a page of this origin (Origin header)
// and carries the session's CSRF token (a form field or the x-csrf-token header). Anything else is a 403.
import type { IncomingMessage } from 'node:http';
import { HttpError } from '../http-util.ts';
import type { WebSession } from './sessions.ts';
import { sameSecret } from './sessions.ts';

export const FORM_LIMIT_BYTES = 256 * 1024;
export const CSRF_FIELD = '_csrf';

/** The Origin must be this server as the browser addressed it; a request without one is refused. */
export function checkOrigin(req: IncomingMessage): void {
  const origin = req.headers.origin;
  const host = req.headers.host;
  const ok =
    origin !== undefined &&
    host !== undefined &&
    (origin === `http://${host}` || origin === `https://${host}`);
  if (!ok)
    throw new HttpError(
      403,
      'origin_mismatch',
      'this request did not come from a dashboard page',
      'reload the page and try again',
    );
}

export function checkCsrf(req: IncomingMessage, session: WebSession, form: URLSearchParams): void {
  const header = req.headers['x-csrf-token'];
  const given = typeof header === 'string' ? header : (form.get(CSRF_FIELD) ?? '');
  if (!sameSecret(given, session.csrf))
    throw new HttpError(
      403,
      'csrf_invalid',
      'missing or wrong CSRF token',
      'reload the page (your session may have ended) and try again',
    );
}

/** Reads an application/x-www-form-urlencoded body (or none) under a size limit. */
export async function readForm(req: IncomingMessage, limit = FORM_LIMIT_BYTES): Promise<URLSearchParams> {
  const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  if (type !== '' && type !== 'application/x-www-form-urlencoded') {
    req.resume();
    throw new HttpError(415, 'unsupported_media_type', 'send the form as application/x-www-form-urlencoded');
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk));
    size += buf.length;
    if (size > limit) {
      req.resume();
      throw new HttpError(413, 'body_too_large', `the form is larger than ${limit} bytes`);
    }
    chunks.push(buf);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}
