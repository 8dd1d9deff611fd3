// Small HTTP helpers for the API: JSON answers, errors in one shape, and a JSON body read under a size limit.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { z } from 'zod';

export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly hint?: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body) + '\n';
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': String(Buffer.byteLength(text)),
    'cache-control': 'no-store',
    ...headers,
  });
  res.end(text);
}

export function sendError(res: ServerResponse, err: HttpError): void {
  sendJson(
    res,
    err.status,
    {
      error: { code: err.code, message: err.message, ...(err.hint === undefined ? {} : { hint: err.hint }) },
    },
    err.headers,
  );
}

/** Reads and validates a JSON body; 415 for another type, 413 over `limit` bytes, 400 when it does not parse. */
export async function readJsonBody<S extends z.ZodType>(
  req: IncomingMessage,
  limit: number,
  schema: S,
): Promise<z.output<S>> {
  const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
  if (type !== 'application/json')
    throw new HttpError(415, 'unsupported_media_type', 'send the body as application/json');
  const tooLarge = new HttpError(413, 'body_too_large', `the body is larger than ${limit} bytes`);
  const declared = Number(req.headers['content-length'] ?? NaN);
  if (declared > limit) {
    req.resume(); // drain what was sent so the connection can answer
    throw tooLarge;
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk));
    size += buf.length;
    if (size > limit) {
      req.resume();
      throw tooLarge;
    }
    chunks.push(buf);
  }
  let value: unknown;
  try {
    value = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new HttpError(400, 'invalid_json', 'the body is not valid JSON');
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const issues = parsed.error.issues
      .slice(0, 5)
      .map((i) => `${i.path.map(String).join('.') || '(body)'}: ${i.message}`);
    throw new HttpError(400, 'invalid_body', issues.join('; '));
  }
  return parsed.data;
}

export type Handler = (
  req: IncomingMessage,
  res: ServerResponse,
  params: string[],
  url: URL,
) => Promise<void> | void;

export interface Route {
  method: string;
  path: RegExp;
  handler: Handler;
}
