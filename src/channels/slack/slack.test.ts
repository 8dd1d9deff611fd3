// The Slack channel against a loopback stand-in speaking Slack's Web API and Socket Mode protocols.
import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startSlackStandIn } from '../../../test/fixtures/slack-standin.ts';
import type { SlackStandIn } from '../../../test/fixtures/slack-standin.ts';
import type { OutboxRow } from '../../store/daemon-types.ts';
import { silentLogger } from '../../util/log.ts';
import type { ChannelAdapter, ChannelSink, InboundMessage, IntakeResult } from '../types.ts';
import { PermanentDeliveryError } from '../types.ts';
import { createSlackChannel } from './adapter.ts';
import { SLACK_TEXT_LIMIT } from './deliver.ts';
import { probeSlack } from './probe.ts';
import { unsentDelivery } from '../../store/daemon-types.ts';

interface Running {
  adapter: ChannelAdapter;
  received: InboundMessage[];
  stop: () => Promise<void>;
}

let slack: SlackStandIn;
const running: Running[] = [];

beforeEach(async () => {
  slack = await startSlackStandIn();
});
afterEach(async () => {
  for (const r of running.splice(0)) await r.stop();
  await slack.close();
});

function start(
  over: {
    botToken?: string;
    appToken?: string;
    answer?: (m: InboundMessage) => IntakeResult | Promise<IntakeResult>;
  } = {},
): Running {
  const received: InboundMessage[] = [];
  const adapter = createSlackChannel({
    name: 'team',
    appToken: over.appToken ?? slack.appToken,
    botToken: over.botToken ?? slack.botToken,
    apiUrl: slack.apiUrl,
    log: silentLogger,
    reconnectDelay: () => 50,
  });
  const sink: ChannelSink = {
    async receive(m) {
      const r = over.answer
        ? await over.answer(m)
        : { status: 'queued' as const, messageIds: [m.platformId] };
      received.push(m);
      return r;
    },
  };
  const ctl = new AbortController();
  const done = adapter.start(sink, ctl.signal);
  const r: Running = {
    adapter,
    received,
    stop: async () => {
      ctl.abort();
      await done;
    },
  };
  running.push(r);
  return r;
}

async function connected(r: Running, connections = 1): Promise<void> {
  await slack.until(() => slack.connections >= connections, `connection ${connections}`);
  await slack.until(() => r.adapter.status().state === 'connected', 'the adapter to be connected');
}

function dm(text: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    type: 'message',
    channel: 'D0ALICE',
    channel_type: 'im',
    user: 'U0ALICE',
    text,
    ts: slack.nextTs(),
    ...extra,
  };
}

function outbox(key: string, payload: Record<string, unknown>): OutboxRow {
  return {
    key,
    messageId: 'm1',
    channel: 'team',
    target: 'C0GENERAL',
    payload,
    ...unsentDelivery(new Date().toISOString()),
  };
}

describe('slack channel, inbound', () => {
  it('takes a DM as one conversation and acks it after the host took it', async () => {
    const r = start();
    await connected(r);
    await slack.sendEvent(dm('hello there'));
    expect(r.received).toHaveLength(1);
    expect(r.received[0]).toMatchObject({
      channel: 'team',
      chat: 'D0ALICE',
      sender: { id: 'U0ALICE' },
      text: 'hello there',
      direct: true,
      mentioned: false,
    });
    expect(r.received[0]?.thread).toBeUndefined();
  });

  it('takes a channel mention once (app_mention and message both arrive), opening a thread at it', async () => {
    const r = start();
    await connected(r);
    const ts = slack.nextTs();
    const base = {
      channel: 'C0GENERAL',
      channel_type: 'channel',
      user: 'U0ALICE',
      text: `<@${slack.botUserId}> status?`,
      ts,
    };
    await Promise.all([
      slack.sendEvent({ type: 'app_mention', ...base }),
      slack.sendEvent({ type: 'message', ...base }),
    ]);
    expect(r.received).toHaveLength(1);
    expect(r.received[0]).toMatchObject({
      chat: 'C0GENERAL',
      thread: ts,
      text: 'status?',
      direct: false,
      mentioned: true,
    });
  });

  it('ignores its own messages, other bots and edits, but acks them', async () => {
    const r = start();
    await connected(r);
    await slack.sendEvent(dm('my own echo', { user: slack.botUserId }));
    await slack.sendEvent(dm('another bot', { bot_id: 'B0OTHER', subtype: 'bot_message' }));
    await slack.sendEvent(dm('edited', { subtype: 'message_changed' }));
    await slack.sendEvent({ type: 'message', channel: 'D0ALICE' });
    expect(r.received).toHaveLength(0);
  });

  it('acks only after the host committed the message; an unacked one comes again and is taken once', async () => {
    let fail = true;
    let attempts = 0;
    const r = start({
      answer: (m) => {
        attempts++;
        if (fail) throw new Error('store is busy');
        return { status: 'queued', messageIds: [m.platformId] };
      },
    });
    await connected(r);
    let acked = false;
    const ack = slack.sendEvent(dm('keep me')).then(() => (acked = true));
    await slack.until(() => attempts === 1, 'the host to be asked');
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(acked).toBe(false);
    fail = false;
    slack.dropSocket();
    await ack;
    expect(r.received.map((m) => m.text)).toEqual(['keep me']);
  });

  it('posts the refusal notice to the sender, in the thread', async () => {
    const r = start({
      answer: () => ({ status: 'refused', reason: 'unknown sender', notice: 'I do not know you yet.' }),
    });
    await connected(r);
    const ts = slack.nextTs();
    await slack.sendEvent({
      type: 'app_mention',
      channel: 'C0GENERAL',
      user: 'U0EVE',
      text: `<@${slack.botUserId}> hi`,
      ts,
    });
    await slack.until(() => slack.posts.length === 1, 'the notice');
    expect(slack.posts[0]).toMatchObject({
      channel: 'C0GENERAL',
      thread_ts: ts,
      text: 'I do not know you yet.',
    });
    // a second try right away is refused quietly: a stranger cannot make the bot talk on and on
    await slack.sendEvent({
      type: 'app_mention',
      channel: 'C0GENERAL',
      user: 'U0EVE',
      text: 'again',
      ts: slack.nextTs(),
    });
    expect(r.received).toHaveLength(2);
    expect(slack.posts).toHaveLength(1);
  });
});

describe('slack channel, outbound', () => {
  it('replies in the thread, split at Slack’s limit, and counts later thread messages as replies to the bot', async () => {
    const r = start();
    await connected(r);
    const thread = slack.nextTs();
    const para = 'x'.repeat(1_500);
    const text = Array.from({ length: 6 }, () => para).join('\n\n');
    await r.adapter.deliver(
      outbox('reply:1', { to: { chat: 'C0GENERAL', thread }, text }),
      new AbortController().signal,
    );
    expect(slack.posts.length).toBe(3);
    for (const p of slack.posts) {
      expect(p).toMatchObject({ channel: 'C0GENERAL', thread_ts: thread });
      expect(p.text.length).toBeLessThanOrEqual(SLACK_TEXT_LIMIT);
    }
    expect(slack.posts.map((p) => p.text).join('\n\n')).toBe(text);

    await slack.sendEvent({
      type: 'message',
      channel: 'C0GENERAL',
      user: 'U0ALICE',
      text: 'and then?',
      ts: slack.nextTs(),
      thread_ts: thread,
    });
    expect(r.received[0]).toMatchObject({ thread, mentioned: false, replyToBot: true });
  });

  it('uploads files the agent sent into the thread', async () => {
    const r = start();
    const thread = slack.nextTs();
    const bytes = Buffer.concat([Buffer.from('a,b\n1,2\n'), randomBytes(70_000)]);
    await r.adapter.deliver(
      outbox('reply:f', {
        to: { chat: 'C0GENERAL', thread },
        text: 'here',
        files: [
          { name: 'data.csv', content: bytes.toString('base64'), caption: 'the numbers' },
          { name: 'b.txt', content: 'Yg==' },
        ],
      }),
      new AbortController().signal,
    );
    expect(slack.posts).toHaveLength(1);
    expect(slack.uploads).toHaveLength(2);
    expect(slack.uploads[0]).toMatchObject({
      filename: 'data.csv',
      length: bytes.length,
      channel: 'C0GENERAL',
      thread_ts: thread,
      initial_comment: 'the numbers',
      completed: true,
    });
    // the wire steps: getUploadURLExternal, the bytes POSTed (multipart) to the upload URL, then completed
    expect(slack.uploads[0]?.content.equals(bytes)).toBe(true);
    expect(slack.calls.filter((c) => c.startsWith('files.'))).toEqual([
      'files.getUploadURLExternal',
      'files.completeUploadExternal',
      'files.getUploadURLExternal',
      'files.completeUploadExternal',
    ]);
  });

  it('waits out a 429 for its Retry-After and then posts once', async () => {
    const r = start();
    slack.failNext('chat.postMessage', { status: 429, retryAfter: 1 });
    await r.adapter.deliver(
      outbox('reply:2', { to: { chat: 'D0ALICE' }, text: 'after the pause' }),
      new AbortController().signal,
    );
    expect(slack.calls.filter((c) => c === 'chat.postMessage')).toHaveLength(2);
    expect(slack.posts.map((p) => p.text)).toEqual(['after the pause']);
  });

  it('gives up for good on a chat that does not exist, and retries the rest later', async () => {
    const r = start();
    slack.failNext('chat.postMessage', { error: 'channel_not_found' });
    await expect(
      r.adapter.deliver(
        outbox('reply:3', { to: { chat: 'C0GONE' }, text: 'x' }),
        new AbortController().signal,
      ),
    ).rejects.toBeInstanceOf(PermanentDeliveryError);
    slack.failNext('chat.postMessage', { error: 'internal_error' });
    const err = await r.adapter
      .deliver(outbox('reply:4', { to: { chat: 'C0GENERAL' }, text: 'x' }), new AbortController().signal)
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect(err).not.toBeInstanceOf(PermanentDeliveryError);
  });

  it('resumes a half-delivered long reply after the pieces already posted', async () => {
    const r = start();
    const text = ['a'.repeat(3_000), 'b'.repeat(3_000), 'c'.repeat(3_000)].join('\n\n');
    const item = outbox('reply:5', { to: { chat: 'C0GENERAL', thread: '1.000001' }, text });
    // the second piece fails; the outbox retries the whole item
    slack.failNext('chat.postMessage', { error: 'fatal_error' }, 1);
    await expect(r.adapter.deliver(item, new AbortController().signal)).rejects.toThrow();
    expect(slack.posts.map((p) => p.text[0])).toEqual(['a']);
    await r.adapter.deliver(item, new AbortController().signal);
    expect(slack.posts.map((p) => p.text[0])).toEqual(['a', 'b', 'c']);
  });
});

describe('slack channel, connection', () => {
  it('reconnects when Slack asks with a disconnect message, and keeps taking messages', async () => {
    const r = start();
    await connected(r);
    slack.sendDisconnect();
    await connected(r, 2);
    await slack.sendEvent(dm('after refresh'));
    expect(r.received.map((m) => m.text)).toEqual(['after refresh']);
  });

  it('reconnects after the socket is dropped, and gets what was sent meanwhile', async () => {
    const r = start();
    await connected(r);
    slack.dropSocket();
    const ack = slack.sendEvent(dm('sent while down'));
    await connected(r, 2);
    await ack;
    expect(r.received.map((m) => m.text)).toEqual(['sent while down']);
  });

  it('stopped while connecting, leaves no socket open behind it', async () => {
    slack.delayNext('apps.connections.open', 300);
    const r = start();
    await slack.until(() => slack.calls.includes('apps.connections.open'), 'the connection request');
    await r.stop();
    expect(r.adapter.status().state).toBe('stopped');
    // the client opens its socket once the slow answer comes; the adapter must close that one too
    await slack.until(() => slack.connections === 1 && !slack.socketOpen, 'the late socket to be closed');
  });

  it('reports an invalid bot token as failed with what to do, without throwing, and stops cleanly', async () => {
    const r = start({ botToken: 'xoxb-wrong' });
    await slack.until(() => r.adapter.status().state === 'failed', 'the failed state');
    expect(r.adapter.status()).toMatchObject({ kind: 'slack', name: 'team' });
    expect(r.adapter.status().detail).toContain('bot token');
    expect(r.adapter.status().fix).toContain('corral channel add slack team');
    expect(JSON.stringify(r.adapter.status())).not.toContain('xoxb-wrong');
    await r.stop();
    expect(r.adapter.status().state).toBe('stopped');
  });

  it('reports an invalid app token as failed', async () => {
    const r = start({ appToken: 'xapp-wrong' });
    await slack.until(() => r.adapter.status().state === 'failed', 'the failed state');
    expect(r.adapter.status().detail).toContain('app token');
  });

  it('marks the channel failed when a reply meets a revoked token, and keeps the item for a retry', async () => {
    const r = start();
    await connected(r);
    slack.revokeTokens();
    const err = await r.adapter
      .deliver(outbox('reply:6', { to: { chat: 'D0ALICE' }, text: 'x' }), new AbortController().signal)
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect(err).not.toBeInstanceOf(PermanentDeliveryError);
    expect(r.adapter.status().state).toBe('failed');
  });
});

describe('slack token probe', () => {
  it('names the team when both tokens work, and which token Slack refused otherwise', async () => {
    const tokens = { appToken: slack.appToken, botToken: slack.botToken };
    expect(await probeSlack('team', tokens, slack.apiUrl)).toEqual({
      ok: true,
      team: 'Stand-in',
      botUserId: slack.botUserId,
    });
    const badBot = await probeSlack('team', { ...tokens, botToken: 'xoxb-wrong-token' }, slack.apiUrl);
    expect(badBot).toMatchObject({ ok: false, detail: 'Slack refused the bot token (invalid_auth)' });
    const badApp = await probeSlack('team', { ...tokens, appToken: 'xapp-wrong-token' }, slack.apiUrl);
    expect(badApp.ok ? '' : badApp.detail).toContain('app-level token');
    await slack.down();
    const down = await probeSlack('team', tokens, slack.apiUrl);
    expect(down).toMatchObject({ ok: false, fix: 'check the network' });
  });
});
