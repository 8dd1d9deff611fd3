// The host's side of every channel adapter: an inbound chat message goes to each agent bound to its chat whose
// trigger it meets, after the unknown-sender rule (decide(), principal user:CHANNEL:SENDER, message.send) allowed
// it; each accepted message is committed (one session per agent, channel and thread) with the chat as its reply
// target before the adapter acknowledges the platform.
import type { ChannelSink, InboundMessage } from '../../channels/types.ts';
import type { ChannelBinding } from '../../config/channels.ts';
import { compileTrigger } from '../../config/channels.ts';
import type { AgentConfig } from '../../config/schema.ts';
import type { ReplyTarget } from '../../store/daemon-types.ts';
import { CorralError } from '../../util/errors.ts';
import type { Logger } from '../../util/log.ts';
import type { InboundMessage as ForAgent } from '../daemon/intake.ts';

/** What the daemon's intake answers (its IntakeResult), as far as a channel needs it. */
export type Decided =
  | { status: 'accepted'; message: { id: string; duplicate?: true } }
  | { status: 'denied'; reason: string }
  | { status: 'held'; approval: string; reason: string };

export interface ChannelIntakeDeps {
  /** every agent whose definition is loaded now */
  agents: () => AgentConfig[];
  /** the daemon's policy-checked way in (Intake.fromChannelUser): decides user:CHANNEL:ID message.send */
  submit: (userId: string, m: ForAgent) => Promise<Decided>;
  log: Logger;
}

export const NOT_ALLOWED_NOTICE = 'Sorry, you are not allowed to talk to this agent.';
export const HELD_NOTICE =
  'Your message waits for an operator’s approval; it is answered once they allow it.';

/** The thread part of the session key: the chat, and the platform thread within it if any. */
export const chatThread = (m: Pick<InboundMessage, 'chat' | 'thread'>): string =>
  m.thread === undefined ? m.chat : `${m.chat}:${m.thread}`;

/**
 * The platform's identity of a message: the same key again is the platform redelivering it (the host died after
 * committing it and before acknowledging it), which the store drops instead of running it twice.
 */
export const platformKey = (m: Pick<InboundMessage, 'channel' | 'chat' | 'platformId'>): string =>
  JSON.stringify([m.channel, m.chat, m.platformId]);

function triggered(b: ChannelBinding, m: InboundMessage): boolean {
  if (m.direct || b.trigger === 'all') return true;
  if (m.mentioned || m.replyToBot) return true;
  return b.trigger !== 'mention' && compileTrigger(b.trigger).test(m.text);
}

/** Bindings for this chat: ones naming the chat win over channel-wide ones. */
function boundAgents(agents: AgentConfig[], m: InboundMessage): AgentConfig[] {
  const all = agents.flatMap((agent) =>
    agent.channels
      .filter((b) => b.channel === m.channel && (b.chat === undefined || b.chat === m.chat))
      .map((binding) => ({ agent, binding })),
  );
  const specific = all.filter((x) => x.binding.chat !== undefined);
  return (specific.length > 0 ? specific : all).filter((x) => triggered(x.binding, m)).map((x) => x.agent);
}

/**
 * An agent as the sender rules see it: the paired owner of each channel it is bound to is a known sender, as if
 * listed in `senders.allow` (decide() stays the one place that says yes).
 */
export function withChannelOwners(
  agent: AgentConfig | CorralError,
  owners: (channel: string) => string[],
): AgentConfig | CorralError {
  if (agent instanceof CorralError) return agent;
  const extra = agent.channels.flatMap((b) => owners(b.channel).map((id) => `${b.channel}:${id}`));
  if (extra.length === 0) return agent;
  return { ...agent, senders: { ...agent.senders, allow: [...new Set([...agent.senders.allow, ...extra])] } };
}

export function createChannelIntake(deps: ChannelIntakeDeps): ChannelSink {
  const { log } = deps;
  return {
    async receive(m) {
      const bound = deps
        .agents()
        .filter((a) =>
          a.channels.some((b) => b.channel === m.channel && (b.chat === undefined || b.chat === m.chat)),
        );
      if (bound.length === 0) {
        log.info('channel message for no agent', { channel: m.channel, chat: m.chat });
        return { status: 'ignored', reason: `no agent is bound to ${m.channel}:${m.chat}` };
      }
      const wanted = boundAgents(bound, m);
      if (wanted.length === 0) return { status: 'ignored', reason: 'no trigger matched' };
      const replyTo: ReplyTarget = {
        channel: 'chat',
        name: m.channel,
        chat: m.chat,
        ...(m.thread === undefined ? {} : { thread: m.thread }),
        replyTo: m.platformId,
      };
      const queued: string[] = [];
      let notice: string | undefined;
      let reason = 'nothing accepted';
      for (const agent of wanted) {
        const r = await deps.submit(m.sender.id, {
          agent: agent.name,
          channel: m.channel,
          thread: chatThread(m),
          text: m.text,
          replyTo,
          platformKey: platformKey(m),
        });
        switch (r.status) {
          case 'accepted':
            if (r.message.duplicate === true)
              log.info('channel message delivered again; already taken', {
                channel: m.channel,
                chat: m.chat,
                platformId: m.platformId,
                message: r.message.id,
              });
            queued.push(r.message.id);
            break;
          case 'denied':
          case 'held':
            log.info('channel sender refused', {
              channel: m.channel,
              sender: m.sender.id,
              agent: agent.name,
              status: r.status,
              reason: r.reason,
            });
            notice = r.status === 'held' ? HELD_NOTICE : (notice ?? NOT_ALLOWED_NOTICE);
            reason = r.reason;
            break;
        }
      }
      if (queued.length > 0) return { status: 'queued', messageIds: queued };
      return notice === undefined ? { status: 'ignored', reason } : { status: 'refused', reason, notice };
    },
  };
}
