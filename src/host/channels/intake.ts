// The host's side of every channel adapter: an inbound chat message goes to each agent bound to its chat whose
// trigger it meets, after the unknown-sender rule (decide(), principal user:CHANNEL:SENDER, message.send) allowed
// it; each accepted message is committed (one session per agent, channel and thread) with the chat as its reply
// target before the adapter acknowledges the platform.
import type { ChannelSink, InboundMessage, IntakeResult } from '../../channels/types.ts';
import type { ChannelBinding } from '../../config/channels.ts';
import { compileTrigger } from '../../config/channels.ts';
import type { AgentConfig } from '../../config/schema.ts';
import type { Principal } from '../../policy/actions.ts';
import type { AgentRights } from '../../policy/decide.ts';
import { agentRights } from '../../policy/rights.ts';
import type { ReplyTarget } from '../../store/daemon-types.ts';
import { errorMessage } from '../../util/errors.ts';
import type { Logger } from '../../util/log.ts';
import type { Authorized } from '../authorize.ts';

export interface IntakeDeps {
  /** every agent whose definition is loaded now */
  agents: () => AgentConfig[];
  /** commits and queues one message (MessageService.accept); returns its id */
  accept: (m: {
    agent: string;
    channel: string;
    thread: string;
    text: string;
    source: string;
    replyTo: ReplyTarget;
  }) => { id: string };
  /** decide (and audit) a sender's message.send; `ask` holds an approval and answers at once */
  authorize: (req: { principal: Principal; resource: string; agent: AgentRights }) => Promise<Authorized>;
  /** senders the operator vouched for on this channel (the paired owner), as platform ids */
  owners?: (channel: string) => string[];
  log: Logger;
}

export const NOT_ALLOWED_NOTICE = 'Sorry, you are not allowed to talk to this agent.';
export const HELD_NOTICE =
  'Your message needs an operator’s approval first; send it again once they allowed it.';

/** The thread part of the session key: the chat, and the platform thread within it if any. */
export const chatThread = (m: Pick<InboundMessage, 'chat' | 'thread'>): string =>
  m.thread === undefined ? m.chat : `${m.chat}:${m.thread}`;

function triggered(b: ChannelBinding, m: InboundMessage): boolean {
  if (m.direct || b.trigger === 'all') return true;
  if (m.mentioned || m.replyToBot) return true;
  return b.trigger !== 'mention' && compileTrigger(b.trigger).test(m.text);
}

/** Bindings for this chat: ones naming the chat win over channel-wide ones. */
function boundAgents(
  agents: AgentConfig[],
  m: InboundMessage,
): { agent: AgentConfig; binding: ChannelBinding }[] {
  const all = agents.flatMap((agent) =>
    agent.channels
      .filter((b) => b.channel === m.channel && (b.chat === undefined || b.chat === m.chat))
      .map((binding) => ({ agent, binding })),
  );
  const specific = all.filter((x) => x.binding.chat !== undefined);
  return specific.length > 0 ? specific : all;
}

export function createChannelIntake(deps: IntakeDeps): ChannelSink {
  const { log } = deps;
  return {
    async receive(m) {
      const bound = boundAgents(deps.agents(), m);
      if (bound.length === 0) {
        log.info('channel message for no agent', { channel: m.channel, chat: m.chat });
        return { status: 'ignored', reason: `no agent is bound to ${m.channel}:${m.chat}` };
      }
      const wanted = bound.filter((x) => triggered(x.binding, m));
      if (wanted.length === 0) return { status: 'ignored', reason: 'no trigger matched' };
      const principal: Principal = { kind: 'user', channel: m.channel, id: m.sender.id };
      const owners = (deps.owners?.(m.channel) ?? []).map((id) => `${m.channel}:${id}`);
      const queued: string[] = [];
      let refusal: IntakeResult | undefined;
      for (const { agent } of wanted) {
        const rights = agentRights(agent);
        const withOwners = {
          ...rights,
          senders: { ...rights.senders, allow: [...rights.senders.allow, ...owners] },
        };
        let d: Authorized;
        try {
          d = await deps.authorize({ principal, resource: `agent:${agent.name}`, agent: withOwners });
        } catch (err) {
          log.error('sender decision failed; refused', { channel: m.channel, err: errorMessage(err) });
          d = { effect: 'deny', reason: `decision failed: ${errorMessage(err)}` };
        }
        if (d.effect !== 'allow') {
          log.info('channel sender refused', {
            channel: m.channel,
            sender: m.sender.id,
            agent: agent.name,
            reason: d.reason,
          });
          refusal = {
            status: 'refused',
            reason: d.reason,
            notice: d.effect === 'ask' ? HELD_NOTICE : NOT_ALLOWED_NOTICE,
          };
          continue;
        }
        const replyTo: ReplyTarget = {
          channel: 'chat',
          name: m.channel,
          chat: m.chat,
          ...(m.thread === undefined ? {} : { thread: m.thread }),
          replyTo: m.platformId,
        };
        const row = deps.accept({
          agent: agent.name,
          channel: m.channel,
          thread: chatThread(m),
          text: m.text,
          source: `${m.channel}:${m.sender.id}`,
          replyTo,
        });
        queued.push(row.id);
      }
      if (queued.length > 0) return { status: 'queued', messageIds: queued };
      return refusal ?? { status: 'ignored', reason: 'nothing accepted' };
    },
  };
}
