// What a sandbox gets for credentials: a sentinel per granted secret (never a value) and a CA bundle that
// trusts the gateway's CA, with the variables that make curl, git, Node and Python use it.
import fs from 'node:fs';
import path from 'node:path';
import type { SentinelFor } from '../gateway/credentials/sentinel.ts';
import { SANDBOX_CA_BUNDLE } from '../protocol/sandbox-env.ts';

export interface SandboxCredentials {
  sentinel: SentinelFor;
  /** the per-install CA's certificate (public) */
  caCertPem: string;
  /** the host's own roots; default the Debian bundle */
  hostBundle?: string;
}

/** Names that would change how the runtime itself starts (a sentinel there would break it, not leak anything). */
const STARTUP_VARIABLES = /^(LD_.*|NODE_OPTIONS)$/;

/**
 * NAME=sentinel for each grant; names the runtime itself sets (PATH, HOME, proxies…) and loader or Node
 * start-up variables are never set.
 */
export function sentinelEnv(
  creds: SandboxCredentials,
  agent: string,
  grants: readonly string[],
  reserved: Record<string, string>,
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of grants)
    if (!(name in reserved) && !STARTUP_VARIABLES.test(name)) env[name] = creds.sentinel(agent, name);
  return env;
}

/**
 * Every common spelling of "use this CA bundle"; they all point at the bundle bound over the system one.
 * Node is told to use OpenSSL's store (that same bundle, through SSL_CERT_FILE) rather than given
 * NODE_EXTRA_CA_CERTS: Node 20 parses an extra-CA file, and its own ~140 roots with it, as every process starts,
 * which cost each Node start in the sandbox ~50–80 ms here (the runtime's included); OpenSSL's store loads only
 * when a process first makes a TLS connection.
 */
export function caEnv(): Record<string, string> {
  return {
    NODE_OPTIONS: '--use-openssl-ca',
    SSL_CERT_FILE: SANDBOX_CA_BUNDLE,
    CURL_CA_BUNDLE: SANDBOX_CA_BUNDLE,
    REQUESTS_CA_BUNDLE: SANDBOX_CA_BUNDLE,
    GIT_SSL_CAINFO: SANDBOX_CA_BUNDLE,
  };
}

/** Writes host roots + the gateway CA into `dir` (readable by the agent's uid: it is public) and returns its path. */
export function writeCaBundle(dir: string, creds: SandboxCredentials): string {
  const hostBundle = creds.hostBundle ?? SANDBOX_CA_BUNDLE;
  const roots = fs.existsSync(hostBundle) ? fs.readFileSync(hostBundle, 'utf8') : '';
  const file = path.join(dir, 'ca-bundle.crt');
  const sep = roots === '' || roots.endsWith('\n') ? '' : '\n';
  fs.writeFileSync(file, `${roots}${sep}${creds.caCertPem}`, { mode: 0o644 });
  return file;
}
