// The egress policy of one agent and the single function that decides a request against it: explicit rules
// first, the preset under them, default deny, and fail closed on anything it does not understand.
import type { EgressRule, HostMatch } from './egress-pattern.ts';
import { DEFAULT_RULE_PORTS, parseEgressPattern } from './egress-pattern.ts';
import { formatIp, parseIp } from './ip.ts';

export const EGRESS_PRESETS = ['none', 'packages', 'web'] as const;
export type EgressPreset = (typeof EGRESS_PRESETS)[number];

/** The mirrors the base image's package managers use: apt (Debian), npm and pip. */
export const PACKAGE_HOSTS: readonly string[] = [
  'deb.debian.org',
  'security.debian.org',
  'registry.npmjs.org',
  'pypi.org',
  'files.pythonhosted.org',
];

export interface EgressPolicy {
  preset: EgressPreset;
  rules: readonly EgressRule[];
}

export interface EgressRequest {
  host: string;
  port: number;
  method: string;
  /** Path without the query string; '' for CONNECT, whose path the gateway cannot see. */
  path: string;
}

export type EgressDecision =
  | {
      allow: true;
      /** The pattern (or `preset:NAME`) that allowed it. */
      rule: string;
      /** An explicitly listed IP literal matched: the one way to reach a private address on purpose. */
      literal: boolean;
    }
  | { allow: false; reason: string };

export function buildPolicy(preset: EgressPreset, patterns: readonly string[]): EgressPolicy {
  return { preset, rules: patterns.map(parseEgressPattern) };
}

export const DENY_ALL: EgressPolicy = { preset: 'none', rules: [] };

/** The request's host as rules see it: lower case, no trailing dot, IP literals in canonical form. */
function normaliseHost(host: string): { name: string } | { ip: string } | undefined {
  const ip = parseIp(host);
  if (ip) return { ip: formatIp(ip) };
  const name = host.toLowerCase().replace(/\.$/, '');
  return /^[a-z0-9_-]+(\.[a-z0-9_-]+)*$/.test(name) ? { name } : undefined;
}

function hostMatches(m: HostMatch, host: { name: string } | { ip: string }): boolean {
  switch (m.kind) {
    case 'ip':
      return 'ip' in host && host.ip === m.ip;
    case 'name':
      return 'name' in host && host.name === m.name;
    case 'suffix':
      return 'name' in host && host.name.endsWith(`.${m.suffix}`);
  }
}

/** `*` matches within one path segment, `**` across segments; everything else literally. */
export function globMatches(glob: string, path: string): boolean {
  const re = glob
    .split('**')
    .map((part) =>
      part
        .split('*')
        .map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
        .join('[^/]*'),
    )
    .join('.*');
  return new RegExp(`^${re}$`).test(path);
}

function ruleMatches(rule: EgressRule, host: { name: string } | { ip: string }, req: EgressRequest): boolean {
  if (!hostMatches(rule.host, host) || !rule.ports.includes(req.port)) return false;
  if (rule.method === undefined && rule.path === undefined) return true;
  // An HTTP-level rule cannot see inside a CONNECT tunnel, so it never allows one.
  if (req.method === 'CONNECT') return false;
  if (rule.method !== undefined && rule.method !== req.method) return false;
  if (rule.path === undefined) return true;
  // An encoded slash or backslash may be decoded by the origin into a path the glob never saw: no match.
  return !/%(2f|5c)/i.test(req.path) && globMatches(rule.path, req.path);
}

function presetAllows(preset: EgressPreset, host: { name: string } | { ip: string }, port: number): boolean {
  if (!DEFAULT_RULE_PORTS.includes(port)) return false;
  switch (preset) {
    case 'none':
      return false;
    case 'packages':
      return 'name' in host && PACKAGE_HOSTS.includes(host.name);
    case 'web':
      return true; // public hosts only: the SSRF guard refuses every other address after resolution
  }
}

/** The single place that decides whether an agent may reach a destination (before resolution). */
export function decideEgress(policy: EgressPolicy, req: EgressRequest): EgressDecision {
  try {
    const host = normaliseHost(req.host);
    if (!host) return { allow: false, reason: 'malformed host' };
    if (!Number.isInteger(req.port) || req.port < 1 || req.port > 65535)
      return { allow: false, reason: 'malformed port' };
    for (const rule of policy.rules) {
      if (ruleMatches(rule, host, req))
        return { allow: true, rule: rule.source, literal: rule.host.kind === 'ip' };
    }
    if (presetAllows(policy.preset, host, req.port))
      return { allow: true, rule: `preset:${policy.preset}`, literal: false };
    const httpOnly =
      req.method === 'CONNECT' &&
      policy.rules.some((r) => hostMatches(r.host, host) && r.ports.includes(req.port));
    const hint = httpOnly
      ? 'only HTTP-level rules match this host, and they cannot see inside CONNECT'
      : 'no allow rule matches';
    return { allow: false, reason: `${hint} (egress preset ${policy.preset})` };
  } catch {
    return { allow: false, reason: 'policy error; denied' };
  }
}
