// The gateway's public types: provider routes, the dependencies the host injects, and an attached endpoint.
import type { ProviderKind } from '../protocol/frames.ts';
import type { Usage } from '../protocol/transcript.ts';
import type { ApprovalPort } from '../policy/approval-port.ts';
import type { LoadedPolicy } from '../policy/policy.ts';
import type { Logger } from '../util/log.ts';
import type { CredentialDeps } from './credentials/types.ts';
import type { EgressDeps } from './egress.ts';

export interface ProviderRoute {
  name: string;
  kind: ProviderKind;
  baseUrl: string;
  keySecret: string;
}

export interface AuditEvent {
  actor: string;
  action: string;
  subject: string;
  detail?: Record<string, unknown>;
}

export interface GatewayDeps {
  /** Read at request time: the configuration may change while endpoints are attached. */
  providers: () => ReadonlyMap<string, ProviderRoute>;
  /** Decrypts from the store on demand; the gateway never caches a key or puts it in the environment. */
  readSecret: (name: string) => string | undefined;
  /** May write later (group commit); a returned promise settles once the row is stored. */
  onUsage: (u: {
    agent: string;
    sandboxId: string;
    provider: string;
    model: string;
    usage: Usage;
  }) => void | Promise<void>;
  /**
   * May write later (group commit); a returned promise settles once the entry is stored. An egress allow waits
   * for it; other entries are recorded without holding up the request, and a failed write is logged.
   */
  audit: (e: AuditEvent) => void | Promise<void>;
  log: Logger;
  /** Read at every model call, before the provider is contacted; absent: no budgets. */
  checkBudget?: (agent: string) => { ok: true } | { ok: false; message: string };
  /** Secrets bound to hosts and granted to agents; absent: no sentinel is ever replaced. */
  credentials?: CredentialDeps;
  /** Allow-listed egress; absent: every destination is denied. */
  egress?: EgressDeps;
  /** The operator's policy (read per request) over each agent's own rules; absent: the agents' rules alone. */
  policy?: () => LoadedPolicy;
  /** Where an `ask` is held for a human; absent: an ask is a denial. */
  approvals?: ApprovalPort;
  /** Client-side limits of each endpoint; tests shorten them. Defaults in gateway.ts. */
  timeouts?: Partial<EndpointTimeouts>;
}

export interface EndpointTimeouts {
  /** Receiving a request's line and headers (slow clients get 408). */
  headersMs: number;
  /** Receiving a whole request, body included. */
  requestMs: number;
  /** An idle keep-alive connection between requests. */
  keepAliveMs: number;
}

export interface GatewayEndpoint {
  socketPath: string;
  close(): Promise<void>;
}

export interface AttachOptions {
  agent: string;
  sandboxId: string;
  socketPath: string;
  /** The sandbox's unprivileged host uid/gid: the socket is chowned to it so only that sandbox can connect. */
  owner?: { uid: number; gid: number };
}

export interface Gateway {
  attach(opts: AttachOptions): Promise<GatewayEndpoint>;
  /** Closes every endpoint. */
  close(): Promise<void>;
}
