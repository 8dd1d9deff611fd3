// The composition root: builds store, gateway, sandbox backends and host from $CORRAL_HOME.
import path from 'node:path';
import { loadConfig } from '../config/config-file.ts';
import type { HomePaths } from '../config/home.ts';
import type { AgentConfig } from '../config/schema.ts';
import { createGateway } from '../gateway/gateway.ts';
import type { ProviderRoute } from '../gateway/types.ts';
import { createBwrapBackend } from '../sandbox/bwrap/backend.ts';
import { DEFAULT_IDLE_LAYER_MS, createLayerPool } from '../sandbox/layer/pool.ts';
import { createGvisorBackend } from '../sandbox/oci/gvisor.ts';
import { createRuncBackend } from '../sandbox/oci/runc.ts';
import { createDockerBackend } from '../sandbox/docker/backend.ts';
import { createMicrovmBackend } from '../sandbox/microvm/backend.ts';
import { importDisplay } from '../sandbox/docker/image.ts';
import type { SandboxRegistry } from '../sandbox/registry.ts';
import { createSandboxRegistry } from '../sandbox/registry.ts';
import { loadOrCreateKey } from '../store/secret-box.ts';
import { openSqliteStore } from '../store/sqlite.ts';
import type { Store } from '../store/types.ts';
import type { Usage } from '../protocol/transcript.ts';
import type { Logger } from '../util/log.ts';
import { stderrDisplay } from '../sandbox/image/display.ts';
import { baseImageSource } from './base-image.ts';
import { createBudgetCheck } from './budget-check.ts';
import { readWhenChanged } from './file-cache.ts';
import { agentHostIds } from './agent-dirs.ts';
import { createBackendGate } from './backend-gate.ts';
import { agentPolicyReader, policyOf } from './egress-policy.ts';
import type { Host, RunTracker } from './host.ts';
import type { GatewayPort, LaunchDeps } from './launch.ts';
import { createHost, createRunTracker } from './host.ts';
import { gatewayCredentials, hostSecretValues, sandboxCredentials } from './credentials.ts';
import { gatewayGovernance, openGovernance } from './governance.ts';
import { createWriteBatcher } from './write-batch.ts';
import { createStartLimiter, defaultMaxStarting } from './start-limit.ts';

export interface OpenedHost {
  host: Host;
  store: Store;
  sandboxes: SandboxRegistry;
  gateway: GatewayPort;
  /** what launchSandbox needs, for a host that manages its own sandboxes (the daemon) */
  launch: LaunchDeps;
  runs: RunTracker;
  /** Agent layers mounted now, over every backend: in use, and kept idle for the agent's next sandbox. */
  layerStats(): { inUse: number; idle: number };
  close(): Promise<void>;
}

/** Taps on what the gateway reports, for the daemon's metrics. */
export interface HostObservers {
  usage?: (u: { agent: string; provider: string; model: string; usage: Usage }) => void;
  audit?: (e: { actor: string; action: string; subject: string; detail?: Record<string, unknown> }) => void;
  /** each sandbox start's wait for its turn (0 when it did not wait) */
  startWaited?: (ms: number) => void;
}

export function openStore(home: HomePaths): Store {
  return openSqliteStore({ path: home.dbFile, secretKey: loadOrCreateKey(home.keyFile) });
}

export function openHost(
  home: HomePaths,
  log: Logger,
  opts: {
    isRoot?: boolean;
    observe?: HostObservers;
    runDir?: string;
    /**
     * Agent definitions for the gateway (egress, budget, grants) from elsewhere than the files: the daemon's
     * catalog, which keeps an agent's last good definition while its file is broken. Throws for an unknown agent.
     */
    agents?: (name: string) => AgentConfig;
  } = {},
): OpenedHost {
  const config = loadConfig(home); // fail early, with the config's own error, before anything starts
  const store = openStore(home);
  const isRoot = opts.isRoot ?? process.getuid?.() === 0;
  // a daemon launches under a run directory of its own, so what a killed one leaves is clearly its own
  const runDir = opts.runDir ?? home.runDir;
  const agentOf = opts.agents;
  const dockerRuntime = config.docker?.runtime;
  // an agent's environment stays mounted between its sandboxes for a while: its next one starts on a warm root
  const idleLayerMs = (config.sandboxes?.idleLayerSeconds ?? DEFAULT_IDLE_LAYER_MS / 1000) * 1000;
  // one mount per agent layer in this process, whichever OCI runtime runs on it
  const layers = createLayerPool({ runDir: home.runDir, idleMs: idleLayerMs });
  const gvisorPlatform = config.gvisor?.platform;
  const sandboxes = createSandboxRegistry([
    createBwrapBackend({ log, isRoot, runDir, idleLayerMs }),
    createDockerBackend({
      log,
      isRoot,
      homeDir: home.root,
      runDir,
      ...(dockerRuntime === 'runsc' ? { runtime: dockerRuntime } : {}),
      onImportProgress: importDisplay(),
    }),
    createRuncBackend({ log, isRoot, runDir: home.runDir, layers }),
    createGvisorBackend({
      log,
      isRoot,
      runDir: home.runDir,
      layers,
      ...(gvisorPlatform === undefined ? {} : { platform: gvisorPlatform }),
    }),
    createMicrovmBackend({
      log,
      isRoot,
      runDir: home.runDir,
      cacheDir: path.join(home.cacheDir, 'microvm'),
      ...config.microvm,
    }),
  ]);
  // the gateway books usage against the run a sandbox serves
  const runs = createRunTracker();
  const creds = sandboxCredentials(home);
  // per-request audit entries and usage rows, committed together once per event-loop turn
  const writes = createWriteBatcher(store, log);
  // read per request, parsed only when the file changed
  const configNow = readWhenChanged(() => loadConfig(home));
  const gateway = createGateway({
    ...gatewayGovernance(home, store), // the operator's policy over each agent's rules; asks held for approval
    providers: () => {
      const routes = new Map<string, ProviderRoute>();
      for (const [name, p] of Object.entries(configNow(home.configFile).providers))
        routes.set(name, { name, ...p });
      return routes;
    },
    readSecret: (name) => store.readSecret(name),
    onUsage: (u) => {
      opts.observe?.usage?.(u);
      return writes.usage({
        agent: u.agent,
        runId: runs.runOf(u.sandboxId) ?? null,
        provider: u.provider,
        model: u.model,
        usage: u.usage,
      });
    },
    audit: (e) => {
      opts.observe?.audit?.(e);
      return writes.audit(e);
    },
    // each agent's file, re-read when it changes: `corral agent set` applies to the next request
    egress: { policy: agentOf ? (agent) => policyOf(agentOf(agent)) : agentPolicyReader(home) },
    checkBudget: createBudgetCheck({ home, store, ...(agentOf ? { agentOf } : {}) }),
    credentials: gatewayCredentials(home, store, creds, agentOf),
    log,
  });
  const gate = createBackendGate({
    cacheDir: home.cacheDir,
    hostIds: (id) => agentHostIds(id, isRoot),
    audit: (e) => void store.appendAudit(e),
  });
  // the first sandbox on the base image builds it (about a minute), with progress on stderr
  const baseImage = baseImageSource(home, {
    onProgress: stderrDisplay(),
    onUnavailable: (reason) =>
      log.warn('no base image: sandboxes use the host /usr, nothing persists', { reason }),
  });
  const launch: LaunchDeps = {
    home: runDir === home.runDir ? home : { ...home, runDir },
    store,
    sandboxes,
    gateway,
    log,
    isRoot,
    gate,
    credentials: creds,
    baseImage,
    governance: openGovernance(home, store), // decides each host-folder mount
    secretValues: hostSecretValues(store, creds), // the start self-test: none of them inside
    // a burst of starts in this process waits its turn instead of missing the ready timeout together
    startLimit: createStartLimiter({
      limit: config.sandboxes?.maxStarting ?? defaultMaxStarting(),
      onWaited: (ms) => opts.observe?.startWaited?.(ms),
    }),
  };
  const opened = createHost({ ...launch, runs });
  return {
    host: opened,
    store,
    sandboxes,
    gateway,
    launch,
    runs,
    layerStats() {
      const all = [layers.stats(), ...sandboxes.list().map((b) => b.layerStats?.())];
      return {
        inUse: all.reduce((n, s) => n + (s?.inUse ?? 0), 0),
        idle: all.reduce((n, s) => n + (s?.idle ?? 0), 0),
      };
    },
    async close() {
      await opened.close();
      // with every sandbox stopped: the environments kept mounted for the next one
      await Promise.allSettled([layers.close(), ...sandboxes.list().map((b) => b.close?.())]);
      await gateway.close();
      writes.flush();
      store.close();
    },
  };
}
