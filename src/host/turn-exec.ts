// Runs one turn for a message that is already committed and marked running, and commits its end in one step:
// shared by `corral run`/`chat` (AgentSession) and the daemon's queue.
import { loadConfig, resolveProvider } from '../config/config-file.ts';
import type { HomePaths } from '../config/home.ts';
import type { AgentConfig } from '../config/schema.ts';
import type { ChatMessage } from '../protocol/transcript.ts';
import type { FileMeta, InboundRow, OutboxInsert } from '../store/daemon-types.ts';
import type { Store } from '../store/types.ts';
import { CorralError, errorMessage } from '../util/errors.ts';
import type { Logger } from '../util/log.ts';
import type { RunningSandbox } from './launch.ts';
import type { RequestHandler, TurnEvent } from './turn.ts';
import { runTurn } from './turn.ts';
import { turnErrorToCorral } from './turn-errors.ts';
import { timeLimits } from './limits.ts';
import { DEFAULT_COMPACT_THRESHOLD, DEFAULT_CONTEXT_WINDOW, planContext } from './compaction.ts';
import { findPrice } from '../gateway/cost.ts';
import { createFileCollector } from './outgoing-files.ts';

export interface TurnResult {
  messageId: string;
  runId: string;
  text: string;
  stopReason: 'end' | 'max_steps' | 'cancelled';
  /** limits the sandbox ran into during the turn, e.g. "memory limit 512 MiB reached; the process was stopped" */
  limits?: string[];
  /** files the agent sent with the reply (send_file), stored with it */
  files?: FileMeta[];
}

export interface SessionHooks {
  /** the host maps a sandbox to the run it is serving, so gateway usage lands on the right run */
  onRunStart(sandboxId: string, runId: string): void;
  onRunEnd(sandboxId: string): void;
}

export interface TurnExecDeps {
  home: HomePaths;
  store: Store;
  hooks: SessionHooks;
  log: Logger;
}

export interface TurnJob {
  agent: AgentConfig;
  /** committed and started (status running) */
  message: InboundRow;
  sandbox: () => Promise<RunningSandbox>;
  /** a sandbox that died or ignored a cancel; the next turn needs a fresh one */
  onSandboxBroken: () => Promise<void>;
  signal?: AbortSignal;
  onEvent?: (e: TurnEvent) => void;
  /** deliveries to make once the turn has ended (idempotency keys per message) */
  outbox?: {
    /** `files`: those the agent sent with the reply (send_file), stored with it */
    reply: (text: string, files: FileMeta[]) => OutboxInsert[];
    failure: (error: string) => OutboxInsert[];
  };
  /** carries out the agent's requests (schedule_task, send_message); without it those tools are not offered */
  requests?: RequestHandler;
  /**
   * A cancel means "run it again later" (the host is stopping), not "the user gave up": the message goes back
   * to the queue instead of ending. Resolves with undefined then.
   */
  requeueOnCancel?: boolean;
}

const BROKEN_SANDBOX = new Set(['sandbox_died', 'sandbox_unresponsive', 'limit_hit']);
/** Tools the host carries out: offered only where something answers their requests (corral up). */
const HOST_TOOLS: ReadonlySet<string> = new Set(['schedule_task', 'send_message', 'send_file']);

/** The turn's signal: the caller's cancel, or the agent's per-turn time limit, whichever comes first. */
function turnTimer(seconds: number, outer: AbortSignal | undefined) {
  const ctl = new AbortController();
  let reached = false;
  const onOuter = (): void => ctl.abort(outer?.reason);
  if (outer?.aborted === true) ctl.abort(outer.reason);
  outer?.addEventListener('abort', onOuter, { once: true });
  const timer = setTimeout(() => {
    reached = true;
    ctl.abort();
  }, seconds * 1000);
  return {
    signal: ctl.signal,
    reached: () => reached,
    dispose: () => {
      clearTimeout(timer);
      outer?.removeEventListener('abort', onOuter);
    },
  };
}

function auditLimit(deps: TurnExecDeps, agent: string, runId: string, limit: string, message: string): void {
  deps.store.appendAudit({
    actor: 'host',
    action: 'limit.hit',
    subject: agent,
    detail: { runId, limit, message },
  });
}

/** Limits the sandbox ran into during the turn, audited; their messages go to the user with the reply. */
async function recordLimitHits(
  deps: TurnExecDeps,
  agent: string,
  runId: string,
  sandbox: RunningSandbox,
): Promise<string[]> {
  const hits = (await sandbox.channel.sandbox.limitEvents?.()) ?? [];
  for (const h of hits) auditLimit(deps, agent, runId, h.limit, h.message);
  return hits.map((h) => h.message);
}

/** Ends with the result, undefined when requeued, or throws the turn's error after recording it. */
export async function executeTurn(deps: TurnExecDeps, job: TurnJob): Promise<TurnResult | undefined> {
  const { store, home } = deps;
  const { agent, message } = job;
  const run = store.startRun({ sessionId: message.sessionId, messageId: message.id });
  try {
    const config = loadConfig(home);
    const provider = resolveProvider(config, agent.model);
    if (!store.listSecrets().some((s) => s.name === provider.keySecret)) {
      throw new CorralError(
        'secret_missing',
        `secret ${provider.keySecret} (the key for provider '${provider.name}') is not set`,
        `printf %s "$KEY" | corral secret set ${provider.keySecret}`,
      );
    }
    const sandbox = await job.sandbox();
    const times = timeLimits(agent.limits);
    const turnLimit = turnTimer(times.turnSeconds, job.signal);
    const userMessage: ChatMessage = { role: 'user', content: [{ type: 'text', text: message.text }] };
    const plan = planContext({
      history: store.transcript(message.sessionId),
      latest: store.latestCompaction(message.sessionId),
      user: userMessage,
      instructions: agent.instructions,
      maxTokens: agent.maxTokens,
      window:
        findPrice(config.prices, provider.name, provider.model)?.contextWindow ?? DEFAULT_CONTEXT_WINDOW,
      threshold: config.compaction?.threshold ?? DEFAULT_COMPACT_THRESHOLD,
    });
    deps.hooks.onRunStart(sandbox.id, run.id);
    const files = createFileCollector();
    const requests = job.requests;
    const outcome = await runTurn(
      sandbox.channel,
      {
        type: 'turn',
        turnId: run.id,
        instructions: agent.instructions,
        messages: plan.messages,
        ...(plan.summary === undefined ? {} : { summary: plan.summary }),
        ...(plan.compact === undefined ? {} : { compact: plan.compact }),
        model: {
          provider: provider.name,
          kind: provider.kind,
          model: provider.model,
          maxTokens: agent.maxTokens,
        },
        tools: job.requests ? agent.tools : agent.tools.filter((t) => !HOST_TOOLS.has(t)),
        maxSteps: agent.maxSteps,
        toolTimeoutMs: times.toolSeconds * 1000,
      },
      {
        onEvent: (e) => {
          if (e.type === 'compacted')
            compacted(deps, agent.name, run.id, message.sessionId, plan.covers, e.summary);
          record(store, agent.name, run.id, e);
          job.onEvent?.(e);
        },
        signal: turnLimit.signal,
        ...(requests
          ? {
              onRequest: (r, attachment) =>
                r.action === 'send_file'
                  ? Promise.resolve(files.add(r, attachment))
                  : requests(r, attachment),
            }
          : {}),
      },
    ).finally(() => {
      turnLimit.dispose();
      deps.hooks.onRunEnd(sandbox.id);
    });
    const limits = await recordLimitHits(deps, agent.name, run.id, sandbox);
    if (turnLimit.reached()) {
      const message = `turn time limit ${times.turnSeconds} s reached; the turn was stopped`;
      auditLimit(deps, agent.name, run.id, 'turnSeconds', message);
      throw new CorralError(
        'turn_time_limit',
        message,
        `the agent is ready for the next message; raise the limit with: corral agent set ${agent.name} --turn-timeout N`,
      );
    }
    if (outcome.type === 'turn_error')
      throw turnErrorToCorral(outcome.code, outcome.message, {
        ...provider,
        provider: provider.name,
        agent: agent.name,
      });
    if (job.requeueOnCancel === true && outcome.stopReason === 'cancelled') return requeue(deps, job, run.id);
    const sent = files.files();
    store.completeMessage({
      messageId: message.id,
      runId: run.id,
      transcript: [userMessage, ...outcome.messages],
      reply: outcome.text,
      stopReason: outcome.stopReason,
      cancelled: outcome.stopReason === 'cancelled',
      outbox: job.outbox?.reply(outcome.text, sent.map(fileMeta)) ?? [],
      files: sent,
    });
    store.appendAudit({
      actor: 'host',
      action: 'run.done',
      subject: agent.name,
      detail: { runId: run.id, messageId: message.id, stopReason: outcome.stopReason },
    });
    return {
      messageId: message.id,
      runId: run.id,
      text: outcome.text,
      stopReason: outcome.stopReason,
      ...(limits.length > 0 ? { limits } : {}),
      ...(sent.length > 0 ? { files: sent.map(fileMeta) } : {}),
    };
  } catch (err) {
    // a dead or unresponsive sandbox is replaced on the next message; the conversation lives in the store
    if (err instanceof CorralError && err.code === 'limit_hit')
      auditLimit(deps, agent.name, run.id, 'sandbox', err.message);
    if (err instanceof CorralError && BROKEN_SANDBOX.has(err.code)) await job.onSandboxBroken();
    if (job.requeueOnCancel === true && job.signal?.aborted === true) return requeue(deps, job, run.id);
    const error = errorMessage(err);
    store.failMessage({
      messageId: message.id,
      runId: run.id,
      error,
      outbox: job.outbox?.failure(error) ?? [],
    });
    store.appendAudit({
      actor: 'host',
      action: 'run.failed',
      subject: agent.name,
      detail: { runId: run.id, messageId: message.id, error },
    });
    throw err;
  }
}

const fileMeta = ({ content: _content, ...meta }: FileMeta & { content: Buffer }): FileMeta => meta;

function requeue(deps: TurnExecDeps, job: TurnJob, runId: string): undefined {
  deps.store.finishRun(runId, {
    status: 'cancelled',
    stopReason: 'cancelled',
    error: 'the host is stopping',
  });
  deps.store.requeueMessage(job.message.id);
  deps.log.info('turn interrupted; the message runs again when the host starts', {
    agent: job.agent.name,
    message: job.message.id,
  });
  return undefined;
}

/** The summary stands in for the first `covers` transcript entries from now on (the entries stay stored). */
function compacted(
  deps: TurnExecDeps,
  agent: string,
  runId: string,
  sessionId: string,
  covers: number,
  summary: string,
) {
  deps.store.saveCompaction(sessionId, covers, summary);
  deps.store.appendAudit({
    actor: 'host',
    action: 'session.compact',
    subject: agent,
    detail: { runId, sessionId, covers, summaryChars: summary.length },
  });
}

function record(store: Store, agent: string, runId: string, e: TurnEvent): void {
  switch (e.type) {
    case 'tool_call':
      store.recordToolCall({ id: `${runId}:${e.callId}`, runId, name: e.name, input: e.input });
      store.appendAudit({
        actor: `agent:${agent}`,
        action: 'tool.call',
        subject: e.name,
        detail: { runId, callId: e.callId, input: e.input },
      });
      return;
    case 'tool_result':
      store.finishToolCall(`${runId}:${e.callId}`, {
        output: e.output,
        isError: e.isError,
        durationMs: e.durationMs,
      });
      return;
    case 'text':
    case 'usage':
    case 'compacted':
      return;
  }
}
