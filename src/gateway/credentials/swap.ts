// Sentinel → value in request headers, only for a destination the secret is bound to and an agent holding the
// grant; everywhere else a sentinel stays an inert string and the attempt is audited. Read at request time.
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import { decide } from '../../policy/decide.ts';
import type { Decision } from '../../policy/decide.ts';
import { EMPTY_POLICY } from '../../policy/policy.ts';
import { declaredOnly } from '../../policy/rights.ts';
import { matchesHost, parseHostPattern, renderHeader } from '../../config/secret-binding.ts';
import type { GatewayDeps } from '../types.ts';
import { recordAudit } from '../audit.ts';

export interface Destination {
  host: string;
  port: number;
  /** whether the value would travel over TLS (CONNECT) rather than plain HTTP */
  tls: boolean;
}

interface Candidate {
  name: string;
  sentinel: string;
  /** why the value may not be sent here; undefined when it may */
  refusal: string | undefined;
  header: string | null;
}

export interface SwapResult {
  headers: OutgoingHttpHeaders;
  /** the values now in the request, for redacting any echo of them from the response */
  values: string[];
}

type Ctx = { agent: string; sandboxId: string; deps: GatewayDeps };

function bound(hosts: readonly string[], dest: Destination): boolean {
  return hosts.some((h) => {
    const p = parseHostPattern(h);
    if (typeof p === 'string') return false;
    // A value goes over plain HTTP only where the operator named that port; a bare host means TLS only.
    if (!dest.tls && p.port === undefined) return false;
    return matchesHost(p, dest.host, dest.port);
  });
}

/**
 * A grant in the agent's file is the agent's declared right; the operator's policy may still deny it (or ask,
 * which the gateway treats as a refusal: credential use is not held for approval).
 */
function grantDecision(ctx: Ctx, declared: readonly string[], name: string): Decision {
  const policy = ctx.deps.policy?.() ?? EMPTY_POLICY;
  const agent = { ...declaredOnly(ctx.agent), grants: declared };
  return decide(policy, { kind: 'agent', name: ctx.agent }, 'secret.grant', `secret:${name}`, { agent });
}

/** Every secret the agent may hold a sentinel for (granted now, or bound and perhaps revoked since). */
function candidates(ctx: Ctx, dest: Destination): Candidate[] {
  const creds = ctx.deps.credentials;
  if (!creds) return [];
  const declared = creds.grants(ctx.agent);
  const grants = new Map(declared.map((name) => [name, grantDecision(ctx, declared, name)]));
  const bindings = new Map(creds.bindings().map((b) => [b.name, b]));
  const names = new Set([...grants.keys(), ...bindings.keys()]);
  return [...names].map((name) => {
    const b = bindings.get(name);
    const granted = grants.get(name);
    const refusal =
      granted === undefined
        ? 'not granted to this agent'
        : granted.effect !== 'allow'
          ? `grant refused by policy: ${granted.reason}`
          : !b || !bound(b.hosts, dest)
            ? 'not bound to this host'
            : undefined;
    return { name, sentinel: creds.sentinel(ctx.agent, name), refusal, header: b?.header ?? null };
  });
}

/** Whether this agent holds a grant for a secret bound to the destination (the gateway then terminates TLS). */
export function hasBoundSecret(ctx: Ctx, dest: Destination): boolean {
  return candidates(ctx, dest).some((c) => c.refusal === undefined);
}

/** Replaces sentinels inside one header value, looking inside `Basic` credentials too (git sends those). */
function swapValue(value: string, replace: (text: string) => string): string {
  const basic = /^basic\s+([A-Za-z0-9+/=]+)$/i.exec(value.trim());
  if (basic?.[1] !== undefined) {
    const decoded = Buffer.from(basic[1], 'base64').toString('utf8');
    const swapped = replace(decoded);
    if (swapped !== decoded) return `Basic ${Buffer.from(swapped, 'utf8').toString('base64')}`;
  }
  return replace(value);
}

function mentions(text: string, sentinel: string): boolean {
  if (text.includes(sentinel)) return true;
  const basic = /^basic\s+([A-Za-z0-9+/=]+)$/i.exec(text.trim());
  return basic?.[1] !== undefined && Buffer.from(basic[1], 'base64').toString('utf8').includes(sentinel);
}

/**
 * The headers to send upstream: sentinels swapped where allowed, header templates applied, and one audit entry
 * per secret used or refused. `target` is the request path, checked for sentinels that would leak in a URL.
 */
export function swapCredentials(
  ctx: Ctx,
  dest: Destination,
  incoming: IncomingHttpHeaders,
  target: string,
): SwapResult {
  return swapWith(ctx, dest, incoming, target, candidates(ctx, dest));
}

function swapWith(
  ctx: Ctx,
  dest: Destination,
  incoming: IncomingHttpHeaders,
  target: string,
  all: Candidate[],
): SwapResult {
  const headers: OutgoingHttpHeaders = { ...incoming };
  const values: string[] = [];
  const used: string[] = [];
  const subject = `${dest.host}:${dest.port}`;
  for (const c of all) {
    const texts = [target, ...Object.values(incoming).flat()].filter((v) => typeof v === 'string');
    const sent = texts.some((t) => mentions(t, c.sentinel));
    const value = c.refusal === undefined ? ctx.deps.readSecret(c.name) : undefined;
    if (value === undefined) {
      if (sent) elsewhere(ctx, c.name, subject, c.refusal ?? 'secret not set');
      continue;
    }
    if (target.includes(c.sentinel)) elsewhere(ctx, c.name, subject, 'sentinel in the URL is never replaced');
    const replace = (text: string): string => text.split(c.sentinel).join(value);
    for (const [name, v] of Object.entries(headers)) {
      if (typeof v === 'string') headers[name] = swapValue(v, replace);
      else if (Array.isArray(v)) headers[name] = v.map((x) => swapValue(x, replace));
    }
    if (c.header !== null) {
      const [name, rendered] = renderHeader(c.header, value);
      headers[name] = rendered;
    }
    if (sent || c.header !== null) {
      values.push(value);
      used.push(c.name);
    }
  }
  if (used.length > 0)
    recordAudit(ctx.deps, {
      actor: `agent:${ctx.agent}`,
      action: 'secret.inject',
      subject,
      detail: { sandboxId: ctx.sandboxId, secrets: used },
    });
  return { headers, values };
}

/**
 * Whether this agent holds a grant for a secret bound to the destination. When it does not, any sentinel in the
 * request is audited (the request itself goes out unchanged). One read of grants and bindings serves both.
 */
export function boundOrAuditStray(
  ctx: Ctx,
  dest: Destination,
  incoming: IncomingHttpHeaders,
  target: string,
): boolean {
  const all = candidates(ctx, dest);
  if (all.some((c) => c.refusal === undefined)) return true;
  swapWith(ctx, dest, incoming, target, all);
  return false;
}

function elsewhere(ctx: Ctx, secret: string, subject: string, reason: string): void {
  recordAudit(ctx.deps, {
    actor: `agent:${ctx.agent}`,
    action: 'secret.sentinel_elsewhere',
    subject,
    detail: { sandboxId: ctx.sandboxId, secret, reason },
  });
}
