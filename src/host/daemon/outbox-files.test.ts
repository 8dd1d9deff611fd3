// Files sent with a reply, through the store and the outbox: committed with the reply, still there after the
// host died before delivering, and put into the delivery as base64 with name, mime, size and sha256.
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { startWebhookReceiver } from '../../../test/fixtures/webhook-receiver.ts';
import type { WebhookReceiver } from '../../../test/fixtures/webhook-receiver.ts';
import { createWebhookChannel } from '../../channels/webhook.ts';
import type { FileInsert } from '../../store/daemon-types.ts';
import { openSqliteStore } from '../../store/sqlite.ts';
import type { Store } from '../../store/types.ts';
import { systemClock } from '../../util/clock.ts';
import { silentLogger } from '../../util/log.ts';
import { createOutbox } from './outbox.ts';
import { withFileContents } from './outbox-files.ts';
import { deliveriesFor } from './turns.ts';
import { unsentDelivery } from '../../store/daemon-types.ts';

const KEY = randomBytes(32);
let dir: string;
let receiver: WebhookReceiver;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'corral-outbox-files-'));
  receiver = await startWebhookReceiver();
});
afterEach(async () => {
  await receiver.close();
  await rm(dir, { recursive: true, force: true });
});

const open = (): Store => openSqliteStore({ path: join(dir, 'corral.db'), secretKey: KEY });

function file(name: string, content: Buffer, caption: string | null = null): FileInsert {
  const sha256 = createHash('sha256').update(content).digest('hex');
  return { id: randomUUID(), name, mime: 'text/csv', size: content.length, sha256, caption, content };
}

it('commits files with the reply; after a crash the outbox delivers them with their content', async () => {
  const bytes = Buffer.concat([Buffer.from('a,b\n'), randomBytes(1000)]);
  const sent = [file('data.csv', bytes, 'the numbers'), file('empty.csv', Buffer.alloc(0))];
  let store = open();
  const m = store.acceptMessage({
    agent: 'a',
    sessionKey: 'api:default',
    kind: 'user',
    source: 'api',
    text: 'send the data',
    replyTo: { channel: 'webhook', url: receiver.url },
    queued: true,
  });
  store.startMessage(m.id);
  const run = store.startRun({ sessionId: m.sessionId, messageId: m.id });
  const metas = sent.map(({ content: _c, ...meta }) => meta);
  store.completeMessage({
    messageId: m.id,
    runId: run.id,
    transcript: [],
    reply: 'here it is',
    stopReason: 'end',
    cancelled: false,
    outbox: deliveriesFor(m, { status: 'done', reply: 'here it is' }, metas),
    files: sent,
  });
  // the outbox row names the files; their bytes stay in message_files
  expect(JSON.stringify(store.listOutbox(m.id)[0]?.payload)).not.toContain(bytes.toString('base64'));
  store.close(); // the host dies before the outbox ran

  store = open();
  try {
    expect(store.listMessageFiles(m.id)).toEqual(metas);
    expect(store.getMessageFile(m.id, sent[0]?.id ?? '')?.content.equals(bytes)).toBe(true);
    expect(store.getMessageFile('another-message', sent[0]?.id ?? '')).toBeUndefined();
    const outbox = createOutbox({
      store,
      clock: systemClock,
      log: silentLogger,
      channels: { webhook: createWebhookChannel() },
    });
    outbox.kick();
    await expect.poll(() => receiver.received.length).toBe(1);
    await outbox.stop(1000);
    const body = receiver.received[0]?.body;
    expect(body).toMatchObject({ key: `reply:${m.id}`, status: 'done', reply: 'here it is' });
    expect(body?.['files']).toEqual([
      {
        id: sent[0]?.id,
        name: 'data.csv',
        mime: 'text/csv',
        size: bytes.length,
        sha256: sent[0]?.sha256,
        caption: 'the numbers',
        content: bytes.toString('base64'),
      },
      {
        id: sent[1]?.id,
        name: 'empty.csv',
        mime: 'text/csv',
        size: 0,
        sha256: sent[1]?.sha256,
        content: '',
      },
    ]);
    expect(store.getOutbox(`reply:${m.id}`)?.status).toBe('delivered');
  } finally {
    store.close();
  }
});

it('a delivery naming a file the store no longer has is given up, not retried', () => {
  const store = open();
  try {
    const item = {
      key: 'k',
      messageId: 'm',
      channel: 'c',
      target: 't',
      payload: { text: '', files: [{ id: 'gone', name: 'x' }] },
      ...unsentDelivery(''),
    };
    expect(() => withFileContents(store, item)).toThrow('file gone of outbox item k is gone from the store');
    // files that already carry their content, and items without files, pass unchanged
    const inline = { ...item, payload: { text: '', files: [{ name: 'x', content: 'eA==' }] } };
    expect(withFileContents(store, inline)).toEqual(inline);
  } finally {
    store.close();
  }
});
