// One conversation with one agent: records the message first, keeps a warm sandbox, runs turns one at a time.
import crypto from 'node:crypto';
import { loadAgent } from '../config/agent-files.ts';
import type { Store } from '../store/types.ts';
import { CorralError, errorMessage } from '../util/errors.ts';
import type { LaunchDeps, RunningSandbox } from './launch.ts';
import { launchSandbox } from './launch.ts';
import type { TurnEvent } from './turn.ts';
import type { SessionHooks, TurnResult } from './turn-exec.ts';
import { executeTurn } from './turn-exec.ts';

export type { SessionHooks, TurnResult } from './turn-exec.ts';

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
    const message = store.acceptMessage({
      agent: agent.name,
      sessionKey: this.key,
      kind: 'user',
      source: 'cli',
      text,
      queued: false,
    });
    store.appendAudit({
      actor: 'user',
      action: 'message.received',
      subject: agent.name,
      detail: { messageId: message.id },
    });
    const result = await executeTurn(this.deps, {
      agent,
      message: store.startMessage(message.id),
      sandbox: async () => (this.sandbox ??= await launchSandbox(this.deps, agent)),
      onSandboxBroken: () => this.dropSandbox(),
      ...opts,
    });
    if (result === undefined) throw new CorralError('internal', 'a direct turn was requeued');
    return result;
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
