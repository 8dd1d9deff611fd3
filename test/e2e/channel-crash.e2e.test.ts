// A Telegram channel through the real `corral up` (bwrap sandboxes, the stand-in model, the stand-in Bot API):
// a private-chat message is answered with exactly one sendMessage; then the host is SIGKILLed mid-turn, the Bot
// API offers the same update again (its offset was never confirmed), and the next host runs the message once
// more to its end, drops the redelivery, and sends exactly one reply. Then the outbound window: a host killed
// while the last part of a long reply was on the wire sends that part, and only that part, again.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Script } from '../fixtures/model-server.ts';
import type { TelegramStandIn } from '../fixtures/telegram-api.ts';
import { startTelegramStandIn } from '../fixtures/telegram-api.ts';
import type { Up } from './daemon-harness.ts';
import { eventually, processesMentioning, startUp, stopUp } from './daemon-harness.ts';
import { addProvider, createE2e, e2eScript, hasBwrap } from './harness.ts';

const OWNER = { id: 4242, first_name: 'Ann' };
const CHAT = { id: 4242, type: 'private' as const };
const TOKEN = '7000001:AAH-chancrash-e2e-token-0123456789';

/** A reply Telegram takes in three sendMessage parts (4,096 characters each at most). */
const LONG = ['a', 'b', 'c'].map((c) => c.repeat(3_000));

/** Model calls per user text; the first call for 'slow' never answers, so the host is killed mid-turn. */
const calls = new Map<string, number>();
const script: Script = (req) => {
  const text = req.lastUserText ?? '';
  const n = (calls.get(text) ?? 0) + 1;
  calls.set(text, n);
  if (text === 'slow' && n === 1) return { kind: 'hang' };
  if (text === 'long') return { kind: 'text', text: LONG.join('\n\n') };
  return e2eScript(req);
};
const modelCalls = (text: string): number => calls.get(text) ?? 0;

describe.skipIf(!hasBwrap)('corral up with a Telegram channel, across SIGKILL (bwrap)', () => {
  let e: Awaited<ReturnType<typeof createE2e>>;
  let tg: TelegramStandIn;
  let pairing = '';
  const ups: Up[] = [];

  beforeAll(async () => {
    tg = await startTelegramStandIn({ token: TOKEN });
    e = await createE2e({ script });
    await e.setup([
      [['init']],
      addProvider('stand', 'anthropic', e.modelUrl, 'STAND_KEY'),
      [['secret', 'set', 'STAND_KEY'], 'sk-stand-in-chancrash-e2e-5d1'],
      [['agent', 'add', 'alpha', '--model', 'stand:claude-test']],
      [['agent', 'set', 'alpha', '--channel', 'tg']],
    ]);
    const added = await e.corral(['channel', 'add', 'telegram', 'tg', '--api-root', tg.apiRoot], TOKEN);
    expect(added.code, added.stderr).toBe(0);
    pairing = /pairing code: (\S+)/.exec(added.stdout)?.[1] ?? '';
    expect(pairing).not.toBe('');
  }, 120_000);
  afterAll(async () => {
    for (const up of ups) await stopUp(up, 'SIGKILL');
    await tg?.close();
    await e?.close();
  });

  const start = async (): Promise<Up> => {
    const up = await startUp(e);
    ups.push(up);
    return up;
  };
  /** What the bot said in the chat (sendMessage texts, in order). */
  const said = (): string[] =>
    tg.sent.filter((s) => s.method === 'sendMessage').map((s) => String(s.params['text']));
  const saidTimes = (text: string): number => said().filter((t) => t === text).length;
  /** Reads the store as a second process would. */
  const query = (sql: string, ...args: unknown[]): unknown[] => {
    const db = e.db();
    try {
      return db.prepare(sql).all(...args);
    } finally {
      db.close();
    }
  };
  const messagesWith = (text: string) =>
    query(
      `SELECT m.status, m.attempts, m.platform_key AS key FROM messages m WHERE m.role = 'user' AND m.text = ?`,
      text,
    );

  it(
    'answers a message once; after a SIGKILL mid-turn and a redelivered update, still runs it once and replies once',
    { timeout: 300_000 },
    async () => {
      const up1 = await start();
      tg.pushMessage({ chat: CHAT, from: OWNER, text: `/pair ${pairing}` });
      await eventually(() => (said().some((t) => t.startsWith('Paired')) ? true : undefined), 'pairing');

      // a private-chat message reaches the agent; its answer is one sendMessage, in reply to the message
      const hello = tg.pushMessage({ chat: CHAT, from: OWNER, text: 'hello' });
      await eventually(
        () => (saidTimes('echo: hello') > 0 ? true : undefined),
        'the reply to hello',
        120_000,
      );
      const reply = tg.sent.find((s) => s.method === 'sendMessage' && s.params['text'] === 'echo: hello');
      expect(reply?.params).toMatchObject({ chat_id: String(CHAT.id) });
      expect(JSON.stringify(reply?.params['reply_parameters'])).toMatch(/"message_id":\d+/);
      await eventually(
        () => (JSON.stringify(query(`SELECT status FROM outbox`)).includes('delivered') ? true : undefined),
        'the reply marked delivered',
      );
      expect(hello).toBeGreaterThan(0);

      // the next message's turn hangs in the model; the host dies before it ends
      const slow = tg.pushMessage({ chat: CHAT, from: OWNER, text: 'slow' });
      await eventually(() => (modelCalls('slow') === 1 ? true : undefined), 'the slow model call', 120_000);
      expect(messagesWith('slow')).toMatchObject([{ status: 'running', attempts: 1 }]);
      up1.child.kill('SIGKILL');
      expect(await up1.exited).toEqual({ code: null, signal: 'SIGKILL' });

      // Telegram never got the offset confirming that update: it offers it again, same update and message id
      tg.redeliver(slow);
      const up2 = await start();
      expect(up2.stderr()).toMatch(/recovered after an unclean stop.*"requeued":1/);
      await eventually(() => (saidTimes('echo: slow') > 0 ? true : undefined), 'the reply to slow', 120_000);
      await tg.confirmed();
      await eventually(
        () =>
          query(`SELECT status FROM outbox`).every((r) => JSON.stringify(r).includes('delivered'))
            ? true
            : undefined,
        'every reply marked delivered',
      );

      // one message, attempted twice (the killed turn and its re-run), answered by exactly one sendMessage
      expect(messagesWith('slow')).toMatchObject([{ status: 'done', attempts: 2 }]);
      expect(messagesWith('hello')).toMatchObject([{ status: 'done', attempts: 1 }]);
      expect(modelCalls('slow')).toBe(2);
      expect(modelCalls('hello')).toBe(1);
      expect(said().filter((t) => t.startsWith('echo:'))).toEqual(['echo: hello', 'echo: slow']);
      // the redelivered update was taken, and dropped as the message it already was
      await eventually(
        () => (/delivered again; already taken/.test(up2.stderr()) ? true : undefined),
        'the log line of the dropped redelivery',
      );

      // a clean stop leaves nothing behind
      up2.child.kill('SIGTERM');
      expect(await up2.exited).toEqual({ code: 0, signal: null });
      expect(processesMentioning(e.home)).toEqual([]);
    },
  );

  it(
    'a reply in parts, killed while its last part was on the wire, resends that part alone (Telegram has no key)',
    { timeout: 300_000 },
    async () => {
      const up3 = await start();
      // Telegram posts the third part, and the host dies before its answer arrives
      tg.swallow('sendMessage', (p) => String(p['text']).startsWith('c'));
      tg.pushMessage({ chat: CHAT, from: OWNER, text: 'long' });
      const parts = (): string[] => said().filter((t) => /^[abc]{3000}$/.test(t));
      await eventually(() => (parts().length === 3 ? true : undefined), 'three parts sent', 120_000);
      const journal = () =>
        query(`SELECT status, parts_done, sending_part FROM outbox WHERE payload LIKE '%ccc%'`);
      expect(journal()).toEqual([{ status: 'pending', parts_done: 2, sending_part: 2 }]);
      up3.child.kill('SIGKILL');
      expect(await up3.exited).toEqual({ code: null, signal: 'SIGKILL' });

      const up4 = await start();
      await eventually(
        () => (JSON.stringify(journal()).includes('delivered') ? true : undefined),
        'the long reply delivered',
      );
      // the confirmed parts never went again; the one in doubt went once more: at least once, never lost
      expect(parts().map((t) => t[0])).toEqual(['a', 'b', 'c', 'c']);
      expect(messagesWith('long')).toMatchObject([{ status: 'done', attempts: 1 }]);
      expect(modelCalls('long')).toBe(1);
      await eventually(
        () => (/may have arrived already/.test(up4.stderr()) ? true : undefined),
        'the log line of the part in doubt',
      );
      up4.child.kill('SIGTERM');
      expect(await up4.exited).toEqual({ code: 0, signal: null });
      expect(processesMentioning(e.home)).toEqual([]);
    },
  );
});
