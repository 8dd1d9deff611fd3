// `corral up`'s host: store, gateway and backends (openHost), the agent catalog, the sandbox pool, the router,
// the outbox and the live events, with recovery on start and a graceful drain on stop. Channels (the HTTP API)
// are attached by the caller through `messages`.
import path from 'node:path';
import { createWebhookChannel } from '../../channels/webhook.ts';
import type { HomePaths } from '../../config/home.ts';
import { loadConfig } from '../../config/config-file.ts';
import { agentExists } from '../../config/agent-files.ts';
import type { InboundRow } from '../../store/daemon-types.ts';
import type { Clock } from '../../util/clock.ts';
import { systemClock } from '../../util/clock.ts';
import { CorralError, errorMessage } from '../../util/errors.ts';
import type { Logger } from '../../util/log.ts';
import { launchSandbox } from '../launch.ts';
import { openHost } from '../open.ts';
import { createSandboxPool } from '../pool/sandbox-pool.ts';
import { createRouter } from '../queue/router.ts';
import type { Router } from '../queue/router.ts';
import type { AgentCatalog } from './agent-catalog.ts';
import { createAgentCatalog } from './agent-catalog.ts';
import { createEventBus } from './events.ts';
import { createMessageService } from './messages.ts';
import { createIntake } from './intake.ts';
import { createChannelHost } from '../channels/channel-host.ts';
import { createChannelIntake, withChannelOwners } from '../channels/intake.ts';
import { openGovernance } from '../governance.ts';
import { createDaemonMetrics } from './daemon-metrics.ts';
import { createOutbox } from './outbox.ts';
import { recoverAfterCrash } from './recovery.ts';
import { defaultMaxPerAgent, defaultMaxSandboxes } from './sizing.ts';
import { createTurnRunner, deliveriesFor } from './turns.ts';
import { createApprovalNotices } from './approval-notices.ts';
import { AGENT_REPLY_CHANNEL, createAgentReplyChannel } from './agent-messages.ts';
import { createAgentRequests } from './agent-requests.ts';
import type { MessageService } from './messages.ts';
import { createScheduler, taskSource } from '../schedule/scheduler.ts';
import { watchTaskChanges } from '../schedule/wake.ts';
import { createDeclaredTasks } from '../schedule/declared.ts';
import { serialByKey } from '../../util/serial.ts';

export interface DaemonOptions {
  home: HomePaths;
  log: Logger;
  maxSandboxes?: number;
  maxPerAgent?: number;
  idleMs?: number;
  clock?: Clock;
  isRoot?: boolean;
  quantum?: number;
}

export const DEFAULT_IDLE_MS = 5 * 60_000;
export const DEFAULT_GRACE_MS = 30_000;
/** How long a stopping host waits for webhook deliveries under way. */
const OUTBOX_STOP_MS = 5_000;

export async function startDaemon(opts: DaemonOptions) {
  const launchSerial = serialByKey();
  // aborted when the host stops: a sandbox start still waiting for its turn then never starts
  const launches = new AbortController();
  const { home, log } = opts;
  const clock = opts.clock ?? systemClock;
  loadConfig(home);
  const runDir = path.join(home.runDir, 'daemon');
  const metricsRef: { current?: ReturnType<typeof createDaemonMetrics> } = {};
  const ended: { current?: (m: InboundRow) => void } = {};
  const requestsRef: { current?: ReturnType<typeof createAgentRequests> } = {};
  const messagesRef: { current?: MessageService } = {};
  const catalogRef: { current?: AgentCatalog } = {};
  const events = createEventBus({ clock });
  const routerRef: { current?: Router } = {};
  const opened = openHost(home, log, {
    ...(opts.isRoot === undefined ? {} : { isRoot: opts.isRoot }),
    runDir,
    // the gateway reads the same definitions the queue runs with (last good one while a file is broken)
    agents: (name) => {
      const found = catalogRef.current?.get(name);
      if (found === undefined || found instanceof Error) throw found ?? new Error('agents not loaded yet');
      return found;
    },
    observe: {
      usage: (u) => metricsRef.current?.usage(u),
      startWaited: (ms) => metricsRef.current?.startWaited(ms),
      audit: (e) => {
        metricsRef.current?.audit(e);
        if (e.action === 'egress.allow' || e.action === 'egress.deny')
          events.publish({
            type: 'egress',
            agent: e.actor.replace(/^agent:/, ''),
            allowed: e.action === 'egress.allow',
            target: e.subject,
            reason: [e.detail?.['reason'], e.detail?.['rule']].find((x) => typeof x === 'string') ?? '',
          });
      },
    },
  });
  const { store } = opened;
  const maxSandboxes = opts.maxSandboxes ?? defaultMaxSandboxes();
  const maxPerAgent = opts.maxPerAgent ?? defaultMaxPerAgent(maxSandboxes);
  let draining = false;

  const failureDeliveries = (m: InboundRow, error: string) => deliveriesFor(m, { status: 'failed', error });
  const recovered = await recoverAfterCrash({
    store,
    sandboxes: opened.sandboxes,
    runDir,
    log,
    outboxFor: failureDeliveries,
  });

  const schedulerRef: { current?: { refresh(): void } } = {};
  // `schedules:` in the files become tasks; a broken file changes none of them (the catalog keeps its last good)
  const declared = createDeclaredTasks({
    store,
    now: () => clock.now(),
    log,
    refresh: () => schedulerRef.current?.refresh(),
  });
  const catalog = createAgentCatalog({
    home,
    log,
    onChange: (c) => {
      switch (c.type) {
        case 'loaded':
          store.ensureAgent(c.agent.name);
          declared.loaded(c.agent);
          events.publish({ type: 'agent.loaded', agent: c.agent.name });
          return routerRef.current?.resume(c.agent.name);
        case 'invalid':
          return events.publish({ type: 'agent.invalid', agent: c.name, error: c.error });
        case 'removed':
          declared.removed(c.name);
          return events.publish({ type: 'agent.removed', agent: c.name });
      }
    },
  });
  catalogRef.current = catalog;
  catalog.start();
  declared.forgetMissing((name) => agentExists(home, name));

  // Telegram, Slack and webhook channels from channels.yaml; replies reach them through the outbox by name
  const channels = createChannelHost({ home, store, log });
  const outbox = createOutbox({
    store,
    clock,
    log,
    lookup: (name) => channels.outboundTo(name),
    channels: {
      webhook: createWebhookChannel(),
      [AGENT_REPLY_CHANNEL]: createAgentReplyChannel(() => {
        if (messagesRef.current === undefined) throw new CorralError('draining', 'the host is starting');
        return messagesRef.current;
      }),
    },
    onDelivered: (item) => metricsRef.current?.delivered(item.channel),
  });
  const pool = createSandboxPool({
    maxSandboxes,
    maxPerAgent,
    idleMs: opts.idleMs ?? DEFAULT_IDLE_MS,
    clock,
    log,
    // one launch per agent at a time: preparing an agent's volume (mount, grow) is not safe to race
    start: (agent) =>
      launchSerial(agent.name, async () => {
        const sandbox = await launchSandbox(opened.launch, agent, { signal: launches.signal });
        metricsRef.current?.sandboxStarted();
        return sandbox;
      }),
  });
  const run = createTurnRunner({
    exec: { home, store, hooks: opened.runs, log },
    store,
    clock,
    log,
    events,
    requests: (agent, message) => {
      const make = requestsRef.current;
      if (make === undefined) throw new CorralError('internal', 'agent requests are not ready');
      return make(agent, message);
    },
    onCommitted: (m, outcome, ms) => {
      metricsRef.current?.turnEnded(m, outcome, ms);
      ended.current?.(m);
      outbox.kick();
    },
  });
  const router = createRouter({
    pool,
    log,
    agent: (name) => catalog.get(name),
    run,
    fail: (m, error) => {
      store.failMessage({ messageId: m.id, runId: null, error, outbox: failureDeliveries(m, error) });
      events.publish({ type: 'run.failed', agent: m.agent, messageId: m.id, error });
      metricsRef.current?.turnEnded(m, 'failed', undefined);
      ended.current?.(m);
      outbox.kick();
    },
    ...(opts.quantum === undefined ? {} : { quantum: opts.quantum }),
  });
  routerRef.current = router;
  const metrics = createDaemonMetrics({
    router,
    pool,
    starts: opened.launch.startLimit,
    layers: () => opened.layerStats(),
  });
  metricsRef.current = metrics;
  const messages = createMessageService({
    store,
    router,
    catalog,
    events,
    draining: () => draining,
    onAccepted: (m) => metrics.accepted(m),
  });
  messagesRef.current = messages;

  // every inbound message (API, channels) is decided by the policy first; held ones wait until stop()
  const gov = openGovernance(home, store);
  const held = new AbortController();
  const intake = createIntake({
    gov,
    agent: (name) => withChannelOwners(catalog.get(name), (c) => channels.owners(c)),
    messages,
    log,
    signal: held.signal,
  });

  const loaded = () =>
    catalog.names().flatMap((n) => {
      const a = catalog.get(n);
      return a instanceof Error ? [] : [a];
    });
  channels.start(
    createChannelIntake({ agents: loaded, submit: (id, m) => intake.fromChannelUser(id, m), log }),
    events,
  );
  // approvals of agents with an admin channel are shown there, with their complete request
  createApprovalNotices({
    store,
    agent: (name) => catalog.get(name),
    channels: () => channels.outbound(),
    log,
  }).start(held.signal);
  // each task runs in its own session of its agent (thread = the task id), through the same queue
  const scheduler = createScheduler({
    store,
    clock,
    log,
    fire: (t) =>
      messages.accept({
        agent: t.agent,
        channel: 'task',
        thread: t.id,
        text: t.prompt,
        kind: 'task',
        source: taskSource(t.id),
      }).id,
  });
  ended.current = (m) => scheduler.ended(m);
  schedulerRef.current = scheduler;
  requestsRef.current = createAgentRequests({ store, gov, catalog, messages, clock, scheduler });
  for (const m of store.queuedMessages()) router.enqueue(m);
  outbox.kick();
  scheduler.start();
  const unwatchTasks = watchTaskChanges(home, log, () => scheduler.refresh());
  log.info('host ready', {
    maxSandboxes,
    maxPerAgent,
    maxStarting: opened.launch.startLimit?.limit,
    agents: catalog.names().length,
    requeued: recovered.requeued.length,
    failed: recovered.failed.length,
  });

  let stopping: Promise<void> | undefined;
  let endGrace: () => void = () => undefined;
  const graceSleep = (ms: number): Promise<void> =>
    new Promise<void>((resolve) => {
      const t = setTimeout(resolve, ms);
      t.unref();
      endGrace = () => {
        clearTimeout(t);
        resolve();
      };
    });
  return {
    messages,
    /** the policy-checked way in: channel adapters call intake.fromChannelUser() */
    intake,
    gov,
    channels,
    events,
    router,
    pool,
    store,
    catalog,
    scheduler,
    clock,
    limits: { maxSandboxes, maxPerAgent },
    metrics: () => metrics.render(),
    draining: () => draining,
    /**
     * Graceful stop: no new messages or turns, running turns get `graceMs` and are then cancelled (their
     * messages run again on the next start), every sandbox is stopped, deliveries under way get a moment.
     */
    stop(graceMs = DEFAULT_GRACE_MS): Promise<void> {
      stopping ??= (async () => {
        draining = true;
        held.abort();
        launches.abort();
        await channels.stop();
        scheduler.stop();
        unwatchTasks();
        events.publish({ type: 'host.draining', graceMs });
        log.info('draining', { graceMs, running: router.running() });
        await router.drain(graceMs, graceSleep);
        await pool.stopAll();
        await outbox.stop(OUTBOX_STOP_MS);
        catalog.close();
        await opened.close().catch((err: unknown) => log.error('close failed', { err: errorMessage(err) }));
        log.info('stopped');
      })();
      return stopping;
    },
    /** Ends the grace period of a stop now (a second Ctrl-C): running turns are cancelled. */
    hurry: (): void => endGrace(),
  };
}

export type Daemon = Awaited<ReturnType<typeof startDaemon>>;
