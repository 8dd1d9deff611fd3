// Dashboard logins: an opaque random session id in an HttpOnly, SameSite=Strict cookie, the principal and a
// per-session CSRF token held here in memory (never the API token itself). A restart logs everyone out.
import crypto from 'node:crypto';
import type { Principal } from '../../policy/actions.ts';

export const SESSION_COOKIE = 'corral_session';
/** A session unused this long is gone; every request renews it. */
export const SESSION_IDLE_MS = 12 * 60 * 60_000;
/** More logins than this at once and the least recently used session is dropped. */
export const MAX_SESSIONS = 1_000;

export interface WebSession {
  id: string;
  principal: Principal;
  csrf: string;
  lastSeen: number;
  /** the outcome of the last form action, for the next page to show once */
  flash?: { ok: boolean; message: string };
}

const random = (): string => crypto.randomBytes(32).toString('base64url');

/** Compares two secrets in constant time (hashed first, so the length does not leak either). */
export function sameSecret(given: string, expected: string): boolean {
  const a = crypto.createHash('sha256').update(given).digest();
  const b = crypto.createHash('sha256').update(expected).digest();
  return crypto.timingSafeEqual(a, b) && given.length > 0;
}

export function createSessions(opts: { now?: () => number; idleMs?: number } = {}) {
  const now = opts.now ?? Date.now;
  const idle = opts.idleMs ?? SESSION_IDLE_MS;
  // keyed by a hash of the id: a heap dump or a timing probe of the map never yields a usable cookie
  const byHash = new Map<string, WebSession>();
  const key = (id: string): string => crypto.createHash('sha256').update(id).digest('base64url');
  return {
    create(principal: Principal): WebSession {
      if (byHash.size >= MAX_SESSIONS) {
        const oldest = [...byHash.entries()].sort((a, b) => a[1].lastSeen - b[1].lastSeen)[0];
        if (oldest !== undefined) byHash.delete(oldest[0]);
      }
      const s: WebSession = { id: random(), principal, csrf: random(), lastSeen: now() };
      byHash.set(key(s.id), s);
      return s;
    },
    get(id: string | undefined): WebSession | undefined {
      if (id === undefined || id.length === 0 || id.length > 100) return undefined;
      const k = key(id);
      const s = byHash.get(k);
      if (s === undefined) return undefined;
      if (now() - s.lastSeen > idle) {
        byHash.delete(k);
        return undefined;
      }
      s.lastSeen = now();
      return s;
    },
    destroy(id: string): void {
      byHash.delete(key(id));
    },
    size: (): number => byHash.size,
  };
}

export type Sessions = ReturnType<typeof createSessions>;

/** The value of one cookie from a Cookie header. */
export function readCookie(header: string | undefined, name: string): string | undefined {
  for (const pair of (header ?? '').split(';')) {
    const i = pair.indexOf('=');
    if (i < 0) continue;
    if (pair.slice(0, i).trim() === name) return pair.slice(i + 1).trim();
  }
  return undefined;
}

export function sessionCookie(id: string): string {
  return `${SESSION_COOKIE}=${id}; HttpOnly; SameSite=Strict; Path=/; Max-Age=${SESSION_IDLE_MS / 1000}`;
}

export const clearedCookie = `${SESSION_COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0`;
