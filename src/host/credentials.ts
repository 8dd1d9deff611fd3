// Wires credentials from $CORRAL_HOME: sentinels keyed from secret.key, the per-install CA, and the grants
// and bindings the gateway reads per request (agent files and the store), failing closed on a broken file.
import path from 'node:path';
import { loadAgent } from '../config/agent-files.ts';
import type { HomePaths } from '../config/home.ts';
import type { AgentConfig } from '../config/schema.ts';
import { createSentinels } from '../gateway/credentials/sentinel.ts';
import type { CredentialDeps } from '../gateway/credentials/types.ts';
import { loadOrCreateCa } from '../gateway/tls/ca.ts';
import { createLeafIssuer } from '../gateway/tls/leaf.ts';
import type { LeafIssuer } from '../gateway/tls/leaf.ts';
import { loadOrCreateKey } from '../store/secret-box.ts';
import type { Store } from '../store/types.ts';
import { readWhenChanged } from './file-cache.ts';
import type { SandboxCredentials } from './sandbox-credentials.ts';

export function sandboxCredentials(home: HomePaths): SandboxCredentials & { caKeyPem: string } {
  const ca = loadOrCreateCa(home.root);
  return {
    sentinel: createSentinels(loadOrCreateKey(home.keyFile)),
    caCertPem: ca.certPem,
    caKeyPem: ca.keyPem,
  };
}

/**
 * Every credential value the host holds (the store's secrets, the CA's private key), for the start self-test:
 * none may appear in a sandbox's environment, whichever agent it runs (an agent's own grants get sentinels).
 */
export function hostSecretValues(
  store: Store,
  creds: ReturnType<typeof sandboxCredentials>,
): () => readonly string[] {
  return () => [...store.listSecrets().flatMap((m) => store.readSecret(m.name) ?? []), creds.caKeyPem];
}

export function gatewayCredentials(
  home: HomePaths,
  store: Store,
  creds: ReturnType<typeof sandboxCredentials>,
  /** definitions from elsewhere than the files (the daemon's catalog) */
  agentOf?: (name: string) => AgentConfig,
): CredentialDeps {
  // Built on first interception: a host that never intercepts never pays for the leaf key.
  let issuer: LeafIssuer | undefined;
  // asked several times per proxied request: parse the agent file only when it changed (a revoke still applies next)
  const grantsIn = readWhenChanged((file) => loadAgent(home, path.basename(file, '.yaml')).grants);
  return {
    grants: (agent) => {
      try {
        if (agentOf) return agentOf(agent).grants;
        return grantsIn(path.join(home.agentsDir, `${path.basename(agent)}.yaml`));
      } catch {
        return []; // an unreadable agent file grants nothing
      }
    },
    bindings: () => store.listSecretBindings(),
    sentinel: creds.sentinel,
    tls: {
      contextFor: (host) => {
        issuer ??= createLeafIssuer({ certPem: creds.caCertPem, keyPem: creds.caKeyPem });
        return issuer.contextFor(host);
      },
    },
  };
}
