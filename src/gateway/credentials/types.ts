// What the gateway needs to put credentials on requests: grants, bindings and sentinels (read at request
// time), and for HTTPS the leaf-certificate issuer and which roots verify the real host.
import type { SecureContext } from 'node:tls';
import type { SentinelFor } from './sentinel.ts';

export interface CredentialDeps {
  /** Secret names granted to the agent; read per request, so a revoked grant applies to the next one. */
  grants: (agent: string) => readonly string[];
  /** Every secret binding; read per request, so a changed binding applies to the next one. */
  bindings: () => readonly { name: string; hosts: readonly string[]; header: string | null }[];
  sentinel: SentinelFor;
  /** Present when the gateway may terminate TLS for bound hosts. */
  tls?: TlsDeps;
}

export interface TlsDeps {
  /** A TLS server context with a leaf certificate for the host, signed by the install's CA. */
  contextFor: (host: string) => SecureContext;
  /** Roots trusted for the real host (PEM); default: Node's bundled roots. Tests inject their own CA. */
  upstreamCa?: string[];
}
