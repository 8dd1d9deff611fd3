// The one contract every channel adapter passes, against a stand-in that speaks its platform's wire format:
// inbound → queued for the bound agent; the reply → the same chat; long replies split; a 429 waited out; an
// outage survived with backoff; malformed payloads and unknown chats ignored without losing good messages.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AgentConfig } from '../config/schema.ts';
import { deliveriesFor } from '../host/daemon/turns.ts';
import { createChannelIntake } from '../host/channels/intake.ts';
import { decide } from '../policy/decide.ts';
import { EMPTY_POLICY } from '../policy/policy.ts';
import { agentRights } from '../policy/rights.ts';
import type { InboundRow, OutboxRow, ReplyTarget } from '../store/daemon-types.ts';
import type { LogFields } from '../util/log.ts';
import { createLogger } from '../util/log.ts';
import type { ChannelAdapter, ChannelSink, ChannelState } from './types.ts';
import { unsentDelivery } from '../store/daemon-types.ts';

/** What the contract needs from a platform's stand-in and the adapter under test. */
export interface ChannelHarness {
  adapter: ChannelAdapter;
  /** the platform's text limit per message */
  limit: number;
  /** a chat the agent is bound to, and one no agent is bound to */
  chats: { bound: string; unknown: string };
  /** a person sends `text` to the bot in `chat` (a direct conversation) */
  inbound(m: { chat: string; sender: string; text: string }): Promise<void>;
  /** the platform hands the adapter something malformed */
  malformed(): Promise<void>;
  /** texts the platform received from the bot, in order */
  delivered(): { chat: string; text: string; replyTo?: string }[];
  /** the next delivery call is answered 429 with retry-after `seconds` */
  rateLimitNext(seconds: number): void;
  /** delivery calls the platform saw, failed ones included */
  deliveryCalls(): number;
  /** the platform becomes unreachable (stopDown) and comes back (startUp) */
  down(): Promise<void>;
  up(): Promise<void>;
  close(): Promise<void>;
}

export interface HarnessContext {
  /** the channel's name */
  name: string;
  sink: ChannelSink;
  log: ReturnType<typeof createLogger>;
}

async function until<T>(what: string, fn: () => T | undefined | false, timeoutMs = 15_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export function channelContract(kind: string, makeHarness: (ctx: HarnessContext) => Promise<ChannelHarness>) {
  describe(`channel contract: ${kind}`, () => {
    const name = `${kind}-main`.replace(/[^a-z0-9-]/g, '');
    let h: ChannelHarness;
    let queued: {
      agent: string;
      channel: string;
      thread: string;
      text: string;
      replyTo: ReplyTarget;
      id: string;
    }[];
    let logs: { level: string; msg: string; fields: LogFields }[];
    let stop: AbortController;
    let running: Promise<void>;

    const agentFor = (chat: string): AgentConfig =>
      AgentConfig.parse({
        name: 'helper',
        model: 'anthropic:m',
        channels: [{ channel: name, chat }],
        senders: { unknown: 'allow' },
      });

    beforeEach(async () => {
      queued = [];
      logs = [];
      const log = createLogger({
        level: 'debug',
        write: (line) => {
          const parsed: unknown = JSON.parse(line);
          if (typeof parsed === 'object' && parsed !== null && 'msg' in parsed && 'level' in parsed)
            logs.push({ level: String(parsed.level), msg: String(parsed.msg), fields: { ...parsed } });
        },
      });
      const bound: { agent?: AgentConfig } = {};
      const sink = createChannelIntake({
        agents: () => (bound.agent === undefined ? [] : [bound.agent]),
        // the daemon's intake (src/host/daemon/intake.ts) decides with decide() and commits; here: decide, record
        submit: (userId, m) => {
          const agent = bound.agent;
          const user = { kind: 'user' as const, channel: m.channel, id: userId };
          const d =
            agent === undefined
              ? undefined
              : decide(EMPTY_POLICY, user, 'message.send', `agent:${m.agent}`, { agent: agentRights(agent) });
          if (d?.effect !== 'allow')
            return Promise.resolve({ status: 'denied' as const, reason: d?.reason ?? 'no agent' });
          const id = `00000000-0000-4000-8000-${String(queued.length + 1).padStart(12, '0')}`;
          const replyTo = m.replyTo ?? undefined;
          if (replyTo === undefined) throw new Error('a chat message carries its reply target');
          queued.push({ agent: m.agent, channel: m.channel, thread: m.thread, text: m.text, replyTo, id });
          return Promise.resolve({ status: 'accepted' as const, message: { id } });
        },
        log,
      });
      h = await makeHarness({ name, sink, log });
      bound.agent = agentFor(h.chats.bound);
      stop = new AbortController();
      running = h.adapter.start(sink, stop.signal);
    });

    afterEach(async () => {
      stop.abort();
      await running;
      await h.close();
    });

    const outboxRowFor = (i: number, text: string): OutboxRow => {
      const q = queued[i];
      if (q === undefined) throw new Error(`no queued message ${i}`);
      const m: InboundRow = {
        id: q.id,
        agent: q.agent,
        sessionId: 's1',
        sessionKey: `${q.channel}:${q.thread}`,
        kind: 'user',
        hops: 0,
        source: null,
        text: q.text,
        status: 'running',
        error: null,
        attempts: 1,
        queueSeq: 1,
        replyTo: q.replyTo,
        replyId: null,
        reply: null,
        createdAt: new Date().toISOString(),
        updatedAt: null,
      };
      const [insert] = deliveriesFor(m, { status: 'done', reply: text });
      if (insert === undefined) throw new Error('a chat message must have a delivery');
      return {
        ...insert,
        ...unsentDelivery(new Date().toISOString()),
      };
    };
    const waitState = (state: ChannelState) =>
      until(`status ${state}`, () => h.adapter.status().state === state);

    it('queues an inbound message for the bound agent, in its own session, with the chat as reply target', async () => {
      await waitState('connected');
      await h.inbound({ chat: h.chats.bound, sender: '42', text: 'hello there' });
      const [m] = await until('a queued message', () => (queued.length > 0 ? queued : undefined));
      expect(m).toMatchObject({ agent: 'helper', channel: name, thread: h.chats.bound, text: 'hello there' });
      expect(m?.replyTo).toMatchObject({ channel: 'chat', name, chat: h.chats.bound });
      expect(h.adapter.status()).toMatchObject({ name, state: 'connected' });
    });

    it('delivers the reply to the same chat, and splits a long one at the limit without losing text', async () => {
      await h.inbound({ chat: h.chats.bound, sender: '42', text: 'hi' });
      await until('a queued message', () => queued.length > 0);
      await h.adapter.deliver(outboxRowFor(0, 'short answer'), stop.signal);
      const long = Array.from(
        { length: Math.ceil((h.limit * 2.5) / 8) },
        (_, i) => `w${String(i).padStart(6, '0')}`,
      ).join(' ');
      await h.adapter.deliver({ ...outboxRowFor(0, long), key: 'reply:long' }, stop.signal);
      const got = h.delivered();
      expect(got[0]).toMatchObject({ chat: h.chats.bound, text: 'short answer' });
      const parts = got.slice(1);
      expect(parts.length).toBeGreaterThanOrEqual(3);
      for (const p of parts) {
        expect(p.chat).toBe(h.chats.bound);
        expect(p.text.length).toBeLessThanOrEqual(h.limit);
      }
      expect(parts.map((p) => p.text).join(' ')).toBe(long);
    });

    it('waits out a 429 with retry-after and delivers once', async () => {
      await h.inbound({ chat: h.chats.bound, sender: '42', text: 'hi' });
      await until('a queued message', () => queued.length > 0);
      const before = h.deliveryCalls();
      h.rateLimitNext(1);
      await h.adapter.deliver(outboxRowFor(0, 'after the wait'), stop.signal);
      expect(h.deliveryCalls() - before).toBe(2);
      expect(h.delivered().filter((d) => d.text === 'after the wait')).toHaveLength(1);
    });

    it('survives an outage: deliveries fail for the outbox to retry, then everything works again', async () => {
      await h.inbound({ chat: h.chats.bound, sender: '42', text: 'before' });
      await until('a queued message', () => queued.length > 0);
      await h.down();
      await expect(h.adapter.deliver(outboxRowFor(0, 'during'), stop.signal)).rejects.toThrow();
      await waitState('retrying');
      await h.up();
      await h.inbound({ chat: h.chats.bound, sender: '42', text: 'after' });
      await until('the message after the outage', () => queued.some((q) => q.text === 'after'));
      await h.adapter.deliver(outboxRowFor(0, 'during'), stop.signal);
      expect(h.delivered().some((d) => d.text === 'during')).toBe(true);
      await waitState('connected');
    });

    it('logs and skips malformed payloads and unknown chats, and still takes the next good message', async () => {
      await waitState('connected');
      await h.malformed();
      await h.inbound({ chat: h.chats.unknown, sender: '7', text: 'who are you' });
      await h.inbound({ chat: h.chats.bound, sender: '42', text: 'good one' });
      await until('the good message', () => queued.some((q) => q.text === 'good one'));
      expect(queued.map((q) => q.text)).toEqual(['good one']);
      expect(logs.some((l) => l.level === 'warn' && /malformed/.test(l.msg))).toBe(true);
      expect(logs.some((l) => /no agent/.test(l.msg) && l.fields['chat'] === h.chats.unknown)).toBe(true);
      expect(h.adapter.status().state).toBe('connected');
    });
  });
}
