// The daemon's front door for messages: every inbound message is a `message.send` by its sender (an operator
// through the API, or a channel user `user:CHANNEL:ID`) to `agent:NAME`, decided by the policy and the agent's
// sender rules (`senders.allow`, `senders.unknown`: deny | ask | allow). A deny answers with the rule that denied;
// an ask holds the complete message as an approval and queues it once an operator approves (while this host runs;
// after a restart the sender sends it again and the approval lets the identical message through for an hour).
import type { AgentConfig } from '../../config/schema.ts';
import type { Principal } from '../../policy/actions.ts';
import type { HeldAction } from '../../policy/approval-port.ts';
import { agentRights } from '../../policy/rights.ts';
import type { ReplyTarget } from '../../store/daemon-types.ts';
import { CorralError, errorMessage } from '../../util/errors.ts';
import type { Logger } from '../../util/log.ts';
import { APPROVAL_TTL_MS } from '../approvals.ts';
import type { Governance } from '../authorize.ts';
import { authorize } from '../authorize.ts';
import type { MessageService, MessageView } from './messages.ts';

export interface InboundMessage {
  agent: string;
  /** the channel it came in on (`api`, `telegram`, `slack`, …); the session is per channel and thread */
  channel: string;
  thread: string;
  text: string;
  replyTo?: ReplyTarget | null;
  /** the platform's identity of a channel message (see MessageService.accept); not part of what is approved */
  platformKey?: string;
}

export type IntakeResult =
  | { status: 'accepted'; message: MessageView }
  | { status: 'denied'; reason: string; rule?: string }
  | { status: 'held'; approval: string; reason: string };

export interface IntakeDeps {
  gov: Governance;
  agent: (name: string) => AgentConfig | CorralError;
  messages: Pick<MessageService, 'accept'>;
  log: Logger;
  /** ends the waits for held messages (the daemon's stop) */
  signal?: AbortSignal;
  /** how long a held message waits for its approval; default the approval's lifetime */
  holdMs?: number;
}

export interface Intake {
  /** Decides and, when allowed, accepts a message from `sender`; never queues a denied or held one. */
  submit(sender: Principal, m: InboundMessage): Promise<IntakeResult>;
  /**
   * For channel adapters: a message from channel user `userId` on `m.channel` (principal `user:CHANNEL:ID`).
   * `accepted`: queued; `denied`: tell the sender `reason` (or stay silent); `held`: an operator must approve.
   */
  fromChannelUser(userId: string, m: InboundMessage): Promise<IntakeResult>;
}

export function createIntake(deps: IntakeDeps): Intake {
  const waiting = new Set<string>();

  const request = (sender: Principal, m: InboundMessage, agent: AgentConfig) => {
    const payload = {
      agent: m.agent,
      channel: m.channel,
      thread: m.thread,
      text: m.text,
      ...(m.replyTo === undefined || m.replyTo === null ? {} : { replyTo: m.replyTo }),
    };
    return {
      principal: sender,
      action: 'message.send' as const,
      resource: `agent:${m.agent}`,
      payload,
      context: { agent: agentRights(agent) },
    } satisfies HeldAction & { context: unknown };
  };

  /** Waits in the background for the operator's decision, then queues the message (once per approval). */
  const release = (req: ReturnType<typeof request>, m: InboundMessage, approval: string): void => {
    if (waiting.has(approval)) return;
    waiting.add(approval);
    const waitMs = deps.holdMs ?? APPROVAL_TTL_MS;
    void authorize(deps.gov, req, { waitMs, ...(deps.signal ? { signal: deps.signal } : {}) })
      .then((d) => {
        if (d.effect !== 'allow')
          return deps.log.info('held message not released', { approval, reason: d.reason });
        deps.messages.accept({ ...m, source: `approval:${approval}` });
      })
      .catch((err: unknown) => deps.log.error('held message failed', { approval, err: errorMessage(err) }))
      .finally(() => waiting.delete(approval));
  };

  const submit = async (sender: Principal, m: InboundMessage): Promise<IntakeResult> => {
    const agent = deps.agent(m.agent);
    if (agent instanceof CorralError) throw agent;
    const req = request(sender, m, agent);
    const d = await authorize(deps.gov, req, { waitMs: 0 });
    switch (d.effect) {
      case 'allow':
        return { status: 'accepted', message: deps.messages.accept(m) };
      case 'deny':
        return { status: 'denied', reason: d.reason, ...(d.rule === undefined ? {} : { rule: d.rule }) };
      case 'ask':
        if (d.approval === undefined) return { status: 'denied', reason: d.reason };
        release(req, m, d.approval);
        return { status: 'held', approval: d.approval, reason: d.reason };
    }
  };

  return {
    submit,
    fromChannelUser: (userId, m) => submit({ kind: 'user', channel: m.channel, id: userId }, m),
  };
}

/** A denied or held intake as the error a caller that cannot say more (a CLI, a test) throws. */
export function intakeError(r: Exclude<IntakeResult, { status: 'accepted' }>): CorralError {
  return r.status === 'denied'
    ? new CorralError('policy_denied', `message refused: ${r.reason}${r.rule ? ` (${r.rule})` : ''}`)
    : new CorralError('approval_required', r.reason, `corral approvals show ${r.approval}`);
}
