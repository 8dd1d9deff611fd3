// Streaming redaction: replaces every occurrence of a secret in a byte stream, also when it is split across chunks.
// A hostile or buggy upstream may echo the key it was sent; the sandbox must never see it.
import { Transform } from 'node:stream';

export const REDACTED = '[redacted]';

/**
 * The pure core, fed chunk by chunk. It holds back only the longest tail that could still become a secret
 * (a proper prefix of one), so bytes that cannot be part of a key, such as an SSE record's final newline,
 * pass through at once and streaming is not delayed.
 */
export function createRedactor(secrets: readonly string[]): { push(chunk: Buffer): Buffer; end(): Buffer } {
  const needles = secrets.filter((s) => s.length > 0).map((s) => Buffer.from(s, 'utf8'));
  const replacement = Buffer.from(REDACTED, 'utf8');
  let pending = Buffer.alloc(0);

  const nextMatch = (buf: Buffer, from: number): { at: number; length: number } | undefined => {
    let best: { at: number; length: number } | undefined;
    for (const needle of needles) {
      const at = buf.indexOf(needle, from);
      if (at < 0) continue;
      if (!best || at < best.at || (at === best.at && needle.length > best.length))
        best = { at, length: needle.length };
    }
    return best;
  };

  /** Length of the longest suffix of buf[from..] that is a proper prefix of some secret. */
  const heldTail = (buf: Buffer, from: number): number => {
    let held = 0;
    for (const needle of needles) {
      for (let k = Math.min(needle.length - 1, buf.length - from); k > held; k--) {
        if (buf.subarray(buf.length - k).equals(needle.subarray(0, k))) {
          held = k;
          break;
        }
      }
    }
    return held;
  };

  return {
    push(chunk) {
      if (needles.length === 0) return chunk;
      const buf = pending.length > 0 ? Buffer.concat([pending, chunk]) : chunk;
      const out: Buffer[] = [];
      let pos = 0;
      for (let m = nextMatch(buf, pos); m; m = nextMatch(buf, pos)) {
        out.push(buf.subarray(pos, m.at), replacement);
        pos = m.at + m.length;
      }
      const held = heldTail(buf, pos);
      out.push(buf.subarray(pos, buf.length - held));
      // Copy: the held bytes must not keep a reference into a caller's buffer that may be reused.
      pending = Buffer.from(buf.subarray(buf.length - held));
      return Buffer.concat(out);
    },
    end() {
      const rest = pending;
      pending = Buffer.alloc(0);
      return rest;
    },
  };
}

/** Redacts secrets in a string, for header values and messages. */
export function redactString(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of secrets) if (s.length > 0) out = out.split(s).join(REDACTED);
  return out;
}

/** The stream form of createRedactor. */
export function redactingStream(secrets: readonly string[]): Transform {
  const redactor = createRedactor(secrets);
  return new Transform({
    transform(chunk: unknown, _enc, done) {
      const out = redactor.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk)));
      if (out.length > 0) this.push(out);
      done();
    },
    flush(done) {
      const rest = redactor.end();
      if (rest.length > 0) this.push(rest);
      done();
    },
  });
}
