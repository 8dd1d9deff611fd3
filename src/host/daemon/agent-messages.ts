// Messages from one agent to another (the send_message tool): decided by authorize() with action
// 'agent.message' (principal agent:SENDER, resource agent:TARGET; denied unless the sender's file or the
// operator's policy allows it), queued for the target as kind `agent` in a session per sender and thread, and
// answered back into the sender's session through the outbox. Every message carries its hop count: a chain of
// agents messaging each other stops at MAX_AGENT_HOPS.
import { z } from 'zod';
import { PermanentDeliveryError } from '../../channels/types.ts';
import type { OutboxChannel } from '../../channels/types.ts';
import type { AgentConfig } from '../../config/schema.ts';
import { agentRights } from '../../policy/rights.ts';
import type { SendMessageInput } from '../../protocol/requests.ts';
import type { InboundRow, OutboxInsert } from '../../store/daemon-types.ts';
import type { Store } from '../../store/types.ts';
import { CorralError } from '../../util/errors.ts';
import type { Governance } from '../authorize.ts';
import { authorize, mustAllow } from '../authorize.ts';
import type { AgentCatalog } from './agent-catalog.ts';
import type { MessageService } from './messages.ts';

/** Agent-to-agent hops one conversation may take (A → B is one, B's reply back to A another). */
export const MAX_AGENT_HOPS = 4;
/** The outbox channel that carries a reply back into the sending agent's session. */
export const AGENT_REPLY_CHANNEL = '@agent';

const ReplyPayload = z.object({
  sessionKey: z.string().min(3),
  from: z.string(),
  hops: z.number().int().min(0),
  text: z.string(),
});

export interface AgentMessageDeps {
  store: Store;
  gov: Governance;
  catalog: AgentCatalog;
  messages: MessageService;
}

/** Sends `input` from `sender` (running `current`); returns what the tool tells the model. */
export async function sendAgentMessage(
  deps: AgentMessageDeps,
  sender: AgentConfig,
  current: InboundRow,
  input: SendMessageInput,
): Promise<string> {
  const hops = current.hops + 1;
  if (hops > MAX_AGENT_HOPS)
    throw new CorralError(
      'hop_limit',
      `not sent: this exchange between agents has already taken ${current.hops} hops (limit ${MAX_AGENT_HOPS})`,
      'answer with what you have instead of messaging another agent',
    );
  const target = deps.catalog.get(input.to);
  if (target instanceof CorralError) throw new CorralError('agent_unknown', `no agent named '${input.to}'`);
  const thread = `${sender.name}:${input.thread ?? 'default'}`;
  const d = await authorize(deps.gov, {
    principal: { kind: 'agent', name: sender.name },
    action: 'agent.message',
    resource: `agent:${input.to}`,
    payload: { to: input.to, thread, text: input.text },
    context: { agent: agentRights(sender) },
  });
  mustAllow(d, `message agent ${input.to}`);
  const sent = deps.messages.accept({
    agent: input.to,
    channel: 'agent',
    thread,
    text: `Message from agent ${sender.name}:\n\n${input.text}`,
    kind: 'agent',
    source: `agent:${sender.name}`,
    replyTo: { channel: 'agent', agent: sender.name, sessionKey: current.sessionKey },
    hops,
  });
  deps.store.appendAudit({
    actor: `agent:${sender.name}`,
    action: 'agent.message',
    subject: input.to,
    detail: { messageId: sent.id, from: current.id, thread, hops },
  });
  return `sent to agent ${input.to} (message ${sent.id}); its reply will arrive in this conversation as a new message`;
}

/** The outbox item that carries a reply (or failure) of an agent message back to its sender's session. */
export function agentReplyDelivery(
  m: InboundRow,
  to: { agent: string; sessionKey: string },
  body: { status: 'done'; reply: string } | { status: 'failed'; error: string },
): OutboxInsert {
  const text =
    body.status === 'done'
      ? `Reply from agent ${m.agent}:\n\n${body.reply}`
      : `Agent ${m.agent} could not answer your message: ${body.error}`;
  return {
    key: `reply:${m.id}`,
    messageId: m.id,
    channel: AGENT_REPLY_CHANNEL,
    target: to.agent,
    payload: { sessionKey: to.sessionKey, from: m.agent, hops: m.hops + 1, text },
  };
}

/** Delivers agent replies by queueing them in the sender's session; a reply is not answered in turn. */
export function createAgentReplyChannel(messages: () => MessageService): OutboxChannel {
  return {
    deliver(item) {
      const p = ReplyPayload.safeParse(item.payload);
      if (!p.success) return Promise.reject(new PermanentDeliveryError('malformed agent reply'));
      const i = p.data.sessionKey.indexOf(':');
      try {
        messages().accept({
          agent: item.target,
          channel: p.data.sessionKey.slice(0, i),
          thread: p.data.sessionKey.slice(i + 1),
          text: p.data.text,
          kind: 'agent',
          source: `agent:${p.data.from}`,
          hops: p.data.hops,
          // the outbox may hand the same reply over again after a crash between accept and marking it
          // delivered: its key makes that a duplicate the store answers, not a second message to the sender
          platformKey: `agent-reply:${item.key}`,
        });
      } catch (err) {
        // the host is stopping: retried after the next start; the sender is gone: nobody to tell
        if (err instanceof CorralError && err.code === 'draining') return Promise.reject(err);
        return Promise.reject(new PermanentDeliveryError(err instanceof Error ? err.message : String(err)));
      }
      return Promise.resolve();
    },
  };
}
