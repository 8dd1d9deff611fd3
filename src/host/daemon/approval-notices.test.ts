// Approvals shown on an agent's admin channel: the complete request, once per approval, to the configured chat,
// tried again when the channel fails; nothing for agents without one. Real SQLite store; the channel records
// what it is given and checks it is a chat delivery an adapter accepts.
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseChatDelivery } from '../../channels/types.ts';
import type { ChatDelivery, OutboxChannel } from '../../channels/types.ts';
import { resolveHome } from '../../config/home.ts';
import { AgentConfig } from '../../config/schema.ts';
import type { Store } from '../../store/types.ts';
import { CorralError } from '../../util/errors.ts';
import { silentLogger } from '../../util/log.ts';
import { startTelegramStandIn } from '../../../test/fixtures/telegram-api.ts';
import { channelSecretName, saveChannels } from '../../config/channels.ts';
import { systemClock } from '../../util/clock.ts';
import { createChannelHost } from '../channels/channel-host.ts';
import { openStore } from '../open.ts';
import { createEventBus } from './events.ts';
import { approvalAgent, createApprovalNotices } from './approval-notices.ts';

let root: string;
let store: Store;
beforeEach(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'corral-notices-'));
  const home = resolveHome({ CORRAL_HOME: root });
  fs.writeFileSync(home.configFile, 'version: 1\nproviders: {}\n');
  fs.writeFileSync(home.keyFile, crypto.randomBytes(32), { mode: 0o600 });
  store = openStore(home);
});
afterEach(() => {
  store.close();
  fs.rmSync(root, { recursive: true, force: true });
});

const agents: Record<string, AgentConfig> = {
  watched: AgentConfig.parse({ name: 'watched', model: 'm:x', adminChannel: 'ops:4242' }),
  quiet: AgentConfig.parse({ name: 'quiet', model: 'm:x' }),
};
const agent = (name: string) => agents[name] ?? new CorralError('agent_unknown', `no agent ${name}`);

function open(principal: string, resource: string, payload: Record<string, unknown>) {
  return store.openApproval({
    action: 'egress',
    principal,
    resource,
    payload,
    payloadKey: crypto.randomBytes(8).toString('hex'),
    reason: 'rule asks',
    rule: 'policy.yaml:3',
    expiresAt: new Date(Date.now() + 3_600_000).toISOString(),
  }).row;
}

function recorder(failFirst = 0) {
  const sent: { chat: string; delivery: ChatDelivery; key: string }[] = [];
  let failures = failFirst;
  const channel: OutboxChannel = {
    deliver(item) {
      if (failures > 0) {
        failures--;
        return Promise.reject(new Error('429 too many requests'));
      }
      sent.push({ chat: item.target, delivery: parseChatDelivery(item), key: item.key });
      return Promise.resolve();
    },
  };
  return { sent, channel };
}

describe('approval notices on the admin channel', () => {
  it('sends the complete request of a held action once, to the configured chat', async () => {
    const payload = { host: 'pypi.org', port: 443, method: 'CONNECT', argv: ['pip', 'install', 'x==1.0'] };
    const a = open('agent:watched', 'pypi.org:443', payload);
    const { sent, channel } = recorder();
    const n = createApprovalNotices({ store, agent, channels: () => ({ ops: channel }), log: silentLogger });
    const signal = new AbortController().signal;
    await n.sweep(signal);
    await n.sweep(signal);
    expect(sent).toHaveLength(1);
    expect(sent[0]?.chat).toBe('4242');
    expect(sent[0]?.key).toBe(`approval:${a.id}`);
    const text = sent[0]?.delivery.text ?? '';
    expect(text).toContain(a.id);
    expect(text).toContain('agent:watched asks for egress on pypi.org:443');
    // the whole stored request, every argument included
    expect(a.payload).toEqual(payload);
    expect(text).toContain(JSON.stringify(a.payload, null, 2));
    expect(text).toContain('"x==1.0"');
    expect(text).toContain(`corral approvals approve ${a.id}`);
  });

  it('shows an approval addressed to the agent too, and nothing for an agent without an admin channel', async () => {
    open('agent:quiet', 'pypi.org:443', { host: 'pypi.org' });
    const addressed = open('user:telegram:77', 'agent:watched', { text: 'hello' });
    const { sent, channel } = recorder();
    const n = createApprovalNotices({ store, agent, channels: () => ({ ops: channel }), log: silentLogger });
    await n.sweep(new AbortController().signal);
    expect(sent.map((s) => s.key)).toEqual([`approval:${addressed.id}`]);
  });

  it('tries a failed send again on the next look, and skips a decided approval', async () => {
    const a = open('agent:watched', 'example.org:443', { host: 'example.org' });
    const b = open('agent:watched', 'example.net:443', { host: 'example.net' });
    store.decideApproval(b.id, {
      status: 'approved',
      by: 'operator:cli',
      always: false,
      expiresAt: new Date(Date.now() + 60_000).toISOString(),
    });
    const { sent, channel } = recorder(1);
    const n = createApprovalNotices({ store, agent, channels: () => ({ ops: channel }), log: silentLogger });
    const signal = new AbortController().signal;
    await n.sweep(signal);
    expect(sent).toHaveLength(0);
    await n.sweep(signal);
    expect(sent.map((s) => s.key)).toEqual([`approval:${a.id}`]);
  });

  it('reaches the chat through a real Telegram adapter (Bot API stand-in on loopback)', async () => {
    const api = await startTelegramStandIn();
    try {
      const home = resolveHome({ CORRAL_HOME: root });
      fs.mkdirSync(home.runDir, { recursive: true });
      saveChannels(home, { channels: { ops: { kind: 'telegram', apiRoot: api.apiRoot } } });
      store.putSecret(channelSecretName('ops'), api.token);
      const host = createChannelHost({ home, store, log: silentLogger });
      host.start(
        { receive: () => Promise.resolve({ status: 'queued', messageIds: [] }) },
        createEventBus({ clock: systemClock }),
      );
      try {
        const a = open('agent:watched', 'pypi.org:443', { host: 'pypi.org', argv: ['pip', 'install', 'y'] });
        const n = createApprovalNotices({ store, agent, channels: () => host.outbound(), log: silentLogger });
        await n.sweep(new AbortController().signal);
        const sent = api.sent.filter((m) => m.method === 'sendMessage');
        expect(sent.map((m) => String(m.params['chat_id']))).toEqual(['4242']);
        expect(String(sent[0]?.params['text'])).toContain(`Approval needed: ${a.id}`);
        expect(String(sent[0]?.params['text'])).toContain('"install"');
      } finally {
        await host.stop();
      }
    } finally {
      await api.close();
    }
  });

  it('names the agent an approval concerns', () => {
    expect(approvalAgent({ principal: 'agent:a1', resource: 'x:443' })).toBe('a1');
    expect(approvalAgent({ principal: 'user:slack:U1', resource: 'agent:b2' })).toBe('b2');
    expect(approvalAgent({ principal: 'operator:cli', resource: 'secret:K' })).toBeUndefined();
  });

  it('refuses an admin channel without a chat when the agent is defined', () => {
    const r = AgentConfig.safeParse({ name: 'x', model: 'm:x', adminChannel: 'ops' });
    expect(r.success).toBe(false);
    expect(JSON.stringify(r.error?.issues)).toContain('ops:CHAT');
  });
});
