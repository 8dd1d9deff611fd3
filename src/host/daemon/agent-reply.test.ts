// An agent's reply to another agent goes through the outbox, which may hand it over again after a crash (between
// queueing it in the sender's session and marking it delivered): the second hand-over is a duplicate, not a
// second message in the sender's conversation. Real SQLite, a real message service; no turn runs here.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { messageServiceForTest } from '../../../test/fixtures/message-service.ts';
import { saveAgent } from '../../config/agent-files.ts';
import { resolveHome } from '../../config/home.ts';
import { AgentConfig } from '../../config/schema.ts';
import type { OutboxRow } from '../../store/daemon-types.ts';
import { openStore } from '../open.ts';
import { agentReplyDelivery, createAgentReplyChannel } from './agent-messages.ts';
import { unsentDelivery } from '../../store/daemon-types.ts';

describe('agent reply delivery', () => {
  const cleanups: (() => void)[] = [];
  afterEach(() => {
    for (const c of cleanups.splice(0).reverse()) c();
  });

  it('queues a reply handed over twice only once in the sender’s session', async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'corral-agent-reply-'));
    cleanups.push(() => fs.rmSync(root, { recursive: true, force: true }));
    const home = resolveHome({ CORRAL_HOME: root });
    fs.mkdirSync(home.runDir, { recursive: true });
    fs.mkdirSync(home.agentsDir, { recursive: true });
    for (const name of ['asker', 'helper']) saveAgent(home, AgentConfig.parse({ name, model: 'p:m' }));
    const store = openStore(home);
    cleanups.push(() => store.close());
    const queued: string[] = [];
    const { messages, close } = messageServiceForTest({
      home,
      store,
      run: (job) => (queued.push(job.message.id), Promise.resolve('done')),
    });
    cleanups.push(close);

    // helper answered a message asker sent from its session api:main
    const asked = messages.accept({
      agent: 'helper',
      channel: 'agent',
      thread: 'asker',
      text: 'what is 2+2?',
      kind: 'agent',
      source: 'agent:asker',
      replyTo: { channel: 'agent', agent: 'asker', sessionKey: 'api:main' },
      hops: 1,
    });
    const row = store.getInbound(asked.id);
    if (row === undefined) throw new Error('the asked message was not stored');
    const insert = agentReplyDelivery(
      row,
      { agent: 'asker', sessionKey: 'api:main' },
      {
        status: 'done',
        reply: '4',
      },
    );
    const item: OutboxRow = {
      ...insert,
      ...unsentDelivery(new Date().toISOString()),
    };
    const channel = createAgentReplyChannel(() => messages);
    const signal = new AbortController().signal;
    await channel.deliver(item, signal);
    await channel.deliver({ ...item, attempts: 1 }, signal); // the crash: handed over again

    const inAsker = store
      .queuedMessages()
      .concat(queued.flatMap((id) => store.getInbound(id) ?? []))
      .filter((m) => m.agent === 'asker');
    const ids = new Set(inAsker.map((m) => m.id));
    expect(ids.size).toBe(1);
    expect(inAsker[0]?.text).toBe('Reply from agent helper:\n\n4');
  });
});
