// One conversation with one agent: records the message first, keeps a warm sandbox, runs turns one at a time.
import crypto from 'node:crypto';
import { loadAgent } from '../config/agent-files.ts';
import { loadConfig, resolveProvider } from '../config/config-file.ts';
import type { ChatMessage } from '../protocol/transcript.ts';
import type { Store } from '../store/types.ts';
import { CorralError, errorMessage } from '../util/errors.ts';
import type { LaunchDeps, RunningSandbox } from './launch.ts';
import { launchSandbox } from './launch.ts';
import type { TurnEvent } from './turn.ts';
import { runTurn } from './turn.ts';
import { turnErrorToCorral } from './turn-errors.ts';

export interface TurnResult {
  messageId: string;
  runId: string;
  text: string;
  stopReason: 'end' | 'max_steps' | 'cancelled';
}

export interface SessionHooks {
  /** the host maps a sandbox to the run it is serving, so gateway usage lands on the right run */
  onRunStart(sandboxId: string, runId: string): void;
  onRunEnd(sandboxId: string): void;
}

export class AgentSession {
  private sandbox: RunningSandbox | undefined;
  private busy = false;

  constructor(
    private readonly deps: LaunchDeps & { hooks: SessionHooks },
    readonly agentName: string,
    readonly key: string,
  ) {}

  get store(): Store {
    return this.deps.store;
  }

  async send(
    text: string,
    opts: { onEvent?: (e: TurnEvent) => void; signal?: AbortSignal } = {},
  ): Promise<TurnResult> {
    if (this.busy) throw new CorralError('session_busy', 'a turn is already running in this session');
    this.busy = true;
    try {
      return await this.turn(text, opts);
    } finally {
      this.busy = false;
    }
  }

  private async turn(
    text: string,
    opts: { onEvent?: (e: TurnEvent) => void; signal?: AbortSignal },
  ): Promise<TurnResult> {
    const { store, home } = this.deps;
    let agent;
    try {
      agent = loadAgent(home, this.agentName);
    } catch (err) {
      store.appendAudit({
        actor: 'user',
        action: 'message.rejected',
        subject: this.agentName,
        detail: { text, error: errorMessage(err) },
      });
      throw err;
    }
    // Definitions are files (maybe written by hand or checked out from git): the row follows the file.
    store.ensureAgent(agent.name);
    const session = store.openSession(agent.name, this.key);
    const message = store.recordMessage({ sessionId: session.id, role: 'user', text, status: 'received' });
    store.appendAudit({
      actor: 'user',
      action: 'message.received',
      subject: agent.name,
      detail: { messageId: message.id },
    });
    const run = store.startRun({ sessionId: session.id, messageId: message.id });
    const fail = (err: unknown): never => {
      store.setMessageStatus(message.id, 'failed', errorMessage(err));
      store.finishRun(run.id, { status: 'failed', error: errorMessage(err) });
      store.appendAudit({
        actor: 'host',
        action: 'run.failed',
        subject: agent.name,
        detail: { runId: run.id, error: errorMessage(err) },
      });
      throw err;
    };
    try {
      const provider = resolveProvider(loadConfig(home), agent.model);
      if (!store.listSecrets().some((s) => s.name === provider.keySecret)) {
        throw new CorralError(
          'secret_missing',
          `secret ${provider.keySecret} (the key for provider '${provider.name}') is not set`,
          `printf %s "$KEY" | corral secret set ${provider.keySecret}`,
        );
      }
      store.setMessageStatus(message.id, 'running');
      this.sandbox ??= await launchSandbox(this.deps, agent);
      const sandbox = this.sandbox;
      const userMessage: ChatMessage = { role: 'user', content: [{ type: 'text', text }] };
      this.deps.hooks.onRunStart(sandbox.id, run.id);
      const outcome = await runTurn(
        sandbox.channel,
        {
          type: 'turn',
          turnId: run.id,
          instructions: agent.instructions,
          messages: [...store.transcript(session.id), userMessage],
          model: {
            provider: provider.name,
            kind: provider.kind,
            model: provider.model,
            maxTokens: agent.maxTokens,
          },
          tools: agent.tools,
          maxSteps: agent.maxSteps,
        },
        {
          onEvent: (e) => {
            this.record(run.id, e);
            opts.onEvent?.(e);
          },
          ...(opts.signal ? { signal: opts.signal } : {}),
        },
      ).finally(() => this.deps.hooks.onRunEnd(sandbox.id));
      if (outcome.type === 'turn_error')
        throw turnErrorToCorral(outcome.code, outcome.message, {
          ...provider,
          provider: provider.name,
          agent: agent.name,
        });
      store.appendTranscript(session.id, [userMessage, ...outcome.messages]);
      store.recordMessage({ sessionId: session.id, role: 'assistant', text: outcome.text, status: 'done' });
      store.setMessageStatus(message.id, 'done');
      store.finishRun(run.id, {
        status: outcome.stopReason === 'cancelled' ? 'cancelled' : 'done',
        stopReason: outcome.stopReason,
      });
      store.appendAudit({
        actor: 'host',
        action: 'run.done',
        subject: agent.name,
        detail: { runId: run.id, stopReason: outcome.stopReason },
      });
      return { messageId: message.id, runId: run.id, text: outcome.text, stopReason: outcome.stopReason };
    } catch (err) {
      // a dead or unresponsive sandbox is replaced on the next message; the conversation lives in the store
      if (
        err instanceof CorralError &&
        (err.code === 'sandbox_died' || err.code === 'sandbox_unresponsive')
      ) {
        await this.dropSandbox();
      }
      return fail(err);
    }
  }

  private record(runId: string, e: TurnEvent): void {
    const { store } = this.deps;
    switch (e.type) {
      case 'tool_call':
        store.recordToolCall({ id: `${runId}:${e.callId}`, runId, name: e.name, input: e.input });
        store.appendAudit({
          actor: `agent:${this.agentName}`,
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
        return;
    }
  }

  private async dropSandbox(): Promise<void> {
    const s = this.sandbox;
    this.sandbox = undefined;
    await s?.stop();
  }

  async close(): Promise<void> {
    await this.dropSandbox();
  }
}

export function newSessionKey(prefix: string): string {
  return `${prefix}:${crypto.randomUUID()}`;
}
