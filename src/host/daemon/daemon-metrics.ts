// What GET /metrics shows: queue depths, sandboxes by state, turns running, latency histograms, messages,
// tokens, egress denials and deliveries, in the Prometheus text format.
import type { Usage } from '../../protocol/transcript.ts';
import type { InboundRow } from '../../store/daemon-types.ts';
import { createMetrics } from '../../util/metrics.ts';
import type { SandboxPool } from '../pool/sandbox-pool.ts';
import type { Router } from '../queue/router.ts';
import type { StartLimiter } from '../start-limit.ts';

const SECONDS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];

export function createDaemonMetrics(deps: {
  router: Router;
  pool: SandboxPool;
  starts?: StartLimiter;
  layers?: () => { inUse: number; idle: number };
}) {
  const m = createMetrics();
  m.gauge('corral_queue_depth', 'Messages waiting to run, per agent.', () =>
    [...deps.router.depths()].map(([agent, value]) => ({ labels: { agent }, value })),
  );
  m.gauge('corral_turns_running', 'Turns running now.', () => [{ value: deps.router.running() }]);
  /** One gauge line per state, the states being a snapshot's keys. */
  const byState = (name: string, help: string, snapshot: () => Record<string, number>): void =>
    m.gauge(name, help, () =>
      Object.entries(snapshot()).map(([state, value]) => ({ labels: { state }, value })),
    );
  byState(
    'corral_sandboxes',
    'Sandboxes by state (starting, busy, idle, stopping) and sessions waiting.',
    () => ({
      ...deps.pool.stats(),
    }),
  );
  const { starts, layers } = deps;
  if (starts !== undefined)
    byState(
      'corral_sandbox_starts',
      'Sandbox starts in their start phase (starting) and waiting for a turn.',
      () => {
        const s = starts.stats();
        return { starting: s.starting, waiting: s.waiting };
      },
    );
  if (layers !== undefined)
    byState(
      'corral_agent_layers',
      "Agents' environments mounted: with a sandbox on them (in_use), and kept for their next sandbox (idle).",
      () => {
        const s = layers();
        return { in_use: s.inUse, idle: s.idle };
      },
    );
  const startWait = m.histogram(
    'corral_sandbox_start_wait_seconds',
    'Time a sandbox start waited for its turn (the bound on starts at once).',
    SECONDS,
  );
  const turnSeconds = m.histogram(
    'corral_turn_duration_seconds',
    'Time a turn ran, from start to commit.',
    SECONDS,
  );
  const replySeconds = m.histogram(
    'corral_reply_latency_seconds',
    'Time from accepting a message to committing its reply or failure.',
    SECONDS,
  );
  const messages = m.counter(
    'corral_messages_total',
    'Messages by kind and outcome (accepted, done, failed).',
  );
  const tokens = m.counter('corral_tokens_total', 'Model tokens by agent, model and type.');
  const denials = m.counter('corral_egress_denials_total', 'Egress requests the gateway refused, per agent.');
  const deliveries = m.counter('corral_deliveries_total', 'Outbox items delivered, per channel.');
  const started = m.counter('corral_sandboxes_started_total', 'Sandboxes started.');
  return {
    render: () => m.render(),
    accepted: (msg: InboundRow) => messages.inc({ kind: msg.kind, outcome: 'accepted' }),
    turnEnded(
      msg: InboundRow,
      outcome: 'done' | 'failed',
      ms: { turn: number; sinceAccepted: number } | undefined,
    ) {
      messages.inc({ kind: msg.kind, outcome });
      if (ms === undefined) return;
      turnSeconds.observe(ms.turn / 1000);
      replySeconds.observe(ms.sinceAccepted / 1000);
    },
    usage(u: { agent: string; model: string; usage: Usage }) {
      for (const [type, n] of [
        ['input', u.usage.inputTokens],
        ['output', u.usage.outputTokens],
        ['cache_read', u.usage.cacheReadTokens],
        ['cache_write', u.usage.cacheWriteTokens],
      ] as const)
        if (n > 0) tokens.inc({ agent: u.agent, model: u.model, type }, n);
    },
    audit(e: { actor: string; action: string }) {
      if (e.action === 'egress.deny') denials.inc({ agent: e.actor.replace(/^agent:/, '') });
    },
    delivered: (channel: string) => deliveries.inc({ channel }),
    sandboxStarted: () => started.inc(),
    startWaited: (ms: number) => startWait.observe(ms / 1000),
  };
}
