// The Store contract for the daemon's queue, outbox and tasks (part of runStoreContract, kept apart for size).
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ChatMessage } from '../protocol/transcript.ts';
import type { InboundRow, OutboxInsert } from './daemon-types.ts';
import type { StoreFactory } from './store.contract.ts';
import { expectCorralError } from './store.contract.ts';
import type { Store } from './types.ts';

const T0 = Date.parse('2026-05-01T08:00:00.000Z');
const at = (ms: number): string => new Date(T0 + ms).toISOString();
const say = (role: 'user' | 'assistant', text: string): ChatMessage => ({
  role,
  content: [{ type: 'text', text }],
});
const webhook = (m: InboundRow, body: Record<string, unknown>): OutboxInsert => ({
  key: `reply:${m.id}`,
  messageId: m.id,
  channel: 'webhook',
  target: 'http://127.0.0.1:9/hook',
  payload: body,
});

export function runQueueContract(name: string, makeStore: StoreFactory): void {
  describe(`Store contract (queue, outbox, tasks): ${name}`, () => {
    let store: Store;
    let cleanup: () => void;
    let now = T0;
    beforeEach(() => {
      now = T0;
      ({ store, cleanup } = makeStore({ clock: () => new Date(now) }));
    });
    afterEach(() => cleanup());

    const accept = (text: string, key = 'api:default', queued = true): InboundRow =>
      store.acceptMessage({ agent: 'a', sessionKey: key, kind: 'user', source: 'api', text, queued });

    describe('inbound queue', () => {
      it('commits a message with its session, in queue order; direct runs stay out of the queue', () => {
        const m1 = accept('one');
        now += 1000;
        const m2 = accept('two', 'api:other');
        const direct = accept('cli', 'cli:x', false);
        expect(m1).toMatchObject({
          agent: 'a',
          sessionKey: 'api:default',
          kind: 'user',
          source: 'api',
          status: 'received',
          attempts: 0,
          reply: null,
          createdAt: at(0),
        });
        expect(m2.queueSeq).toBeGreaterThan(m1.queueSeq ?? Infinity);
        expect(direct.queueSeq).toBeNull();
        expect(store.queuedMessages().map((m) => m.text)).toEqual(['one', 'two']);
        expect(store.findSession('a', 'api:default')?.id).toBe(m1.sessionId);
        expect(store.findSession('a', 'api:nope')).toBeUndefined();
        expect(store.getInbound(m2.id)).toEqual(m2);
      });

      it('keeps the reply target and the kind', () => {
        const m = store.acceptMessage({
          agent: 'a',
          sessionKey: 'task:t-1',
          kind: 'task',
          source: 'task:t-1',
          text: 'daily report',
          replyTo: { channel: 'webhook', url: 'http://127.0.0.1:1/x' },
          queued: true,
        });
        expect(store.getInbound(m.id)).toMatchObject({
          kind: 'task',
          replyTo: { channel: 'webhook', url: 'http://127.0.0.1:1/x' },
        });
      });

      it('keeps the hops of an agent message and where its reply goes; keeps the latest compaction', () => {
        const m = store.acceptMessage({
          agent: 'a',
          sessionKey: 'agent:b:default',
          kind: 'agent',
          source: 'agent:b',
          text: 'from b',
          replyTo: { channel: 'agent', agent: 'b', sessionKey: 'api:x' },
          hops: 3,
          queued: true,
        });
        expect(store.getInbound(m.id)).toMatchObject({ hops: 3, replyTo: { channel: 'agent', agent: 'b' } });
        expect(accept('plain').hops).toBe(0);
        expect(store.latestCompaction(m.sessionId)).toBeUndefined();
        store.saveCompaction(m.sessionId, 4, 'first summary');
        store.saveCompaction(m.sessionId, 10, 'second summary');
        expect(store.latestCompaction(m.sessionId)).toEqual({ covers: 10, summary: 'second summary' });
      });

      it('starts a message once, counting attempts; a requeue does not count', () => {
        const m = accept('x');
        expect(store.startMessage(m.id)).toMatchObject({ status: 'running', attempts: 1 });
        expectCorralError(() => store.startMessage(m.id), 'message_state');
        store.requeueMessage(m.id);
        expect(store.getInbound(m.id)).toMatchObject({ status: 'received', attempts: 0 });
        expect(store.queuedMessages()).toHaveLength(1);
        expectCorralError(() => store.startMessage('missing'), 'not_found');
      });

      it('completes a turn in one step: transcript, reply, run, outbox (once per key)', () => {
        const m = accept('hello');
        store.startMessage(m.id);
        const run = store.startRun({ sessionId: m.sessionId, messageId: m.id });
        now += 500;
        const reply = store.completeMessage({
          messageId: m.id,
          runId: run.id,
          transcript: [say('user', 'hello'), say('assistant', 'hi there')],
          reply: 'hi there',
          stopReason: 'end',
          cancelled: false,
          outbox: [webhook(m, { text: 'hi there' })],
        });
        expect(store.getInbound(m.id)).toMatchObject({
          status: 'done',
          replyId: reply.id,
          reply: 'hi there',
        });
        expect(store.transcript(m.sessionId)).toEqual([say('user', 'hello'), say('assistant', 'hi there')]);
        expect(store.getRun(run.id)).toMatchObject({ status: 'done', stopReason: 'end', endedAt: at(500) });
        expect(store.listMessages(m.sessionId).map((r) => [r.role, r.text])).toEqual([
          ['user', 'hello'],
          ['assistant', 'hi there'],
        ]);
        expect(store.listOutbox(m.id)).toMatchObject([
          { key: `reply:${m.id}`, status: 'pending', payload: { text: 'hi there' }, attempts: 0 },
        ]);
        // the same turn committed again (a bug, or a replay) changes nothing
        expectCorralError(
          () =>
            store.completeMessage({
              messageId: m.id,
              runId: run.id,
              transcript: [say('assistant', 'again')],
              reply: 'again',
              stopReason: 'end',
              cancelled: false,
              outbox: [webhook(m, { text: 'again' })],
            }),
          'message_state',
        );
        expect(store.transcript(m.sessionId)).toHaveLength(2);
        expect(store.listOutbox(m.id)).toHaveLength(1);
      });

      it('a failing commit leaves nothing behind', () => {
        const m = accept('hello');
        store.startMessage(m.id);
        const run = store.startRun({ sessionId: m.sessionId, messageId: m.id });
        const bad: unknown = JSON.parse('{"role":"system","content":[]}');
        const transcript = [say('user', 'hello'), bad].filter(
          (x): x is ChatMessage => typeof x === 'object' && x !== null,
        );
        expectCorralError(
          () =>
            store.completeMessage({
              messageId: m.id,
              runId: run.id,
              transcript,
              reply: 'x',
              stopReason: 'end',
              cancelled: false,
              outbox: [webhook(m, {})],
            }),
          'invalid_transcript',
        );
        expect(store.getInbound(m.id)?.status).toBe('running');
        expect(store.transcript(m.sessionId)).toEqual([]);
        expect(store.listOutbox(m.id)).toEqual([]);
      });

      it('fails a message with its reason, its run and a failure delivery', () => {
        const m = accept('x');
        store.startMessage(m.id);
        const run = store.startRun({ sessionId: m.sessionId, messageId: m.id });
        store.failMessage({
          messageId: m.id,
          runId: run.id,
          error: 'sandbox died',
          outbox: [webhook(m, { error: 'sandbox died' })],
        });
        expect(store.getInbound(m.id)).toMatchObject({ status: 'failed', error: 'sandbox died' });
        expect(store.getRun(run.id)).toMatchObject({ status: 'failed', error: 'sandbox died' });
        expect(store.listOutbox(m.id)).toHaveLength(1);
        expectCorralError(
          () => store.failMessage({ messageId: 'missing', runId: null, error: 'x', outbox: [] }),
          'not_found',
        );
      });

      it('recovers after a crash: running messages requeued or failed after max attempts', () => {
        const fresh = accept('fresh');
        const once = accept('once');
        const direct = accept('direct', 'cli:1', false);
        for (const m of [once, direct]) store.startMessage(m.id);
        const run = store.startRun({ sessionId: once.sessionId, messageId: once.id });
        const result = store.recoverUnfinished({
          maxAttempts: 1,
          reason: 'the host stopped while it ran',
          outboxFor: (row, error) => [webhook(row, { error })],
        });
        expect(result.requeued.map((m) => m.text)).toEqual([]);
        expect(result.failed.map((m) => m.text)).toEqual(['once']);
        expect(store.getInbound(once.id)).toMatchObject({
          status: 'failed',
          error: 'the host stopped while it ran; not retried after 1 attempts',
        });
        expect(store.getRun(run.id)).toMatchObject({ status: 'failed' });
        expect(store.listOutbox(once.id)).toHaveLength(1);
        expect(store.getInbound(direct.id)?.status).toBe('running'); // not the daemon's: left alone
        expect(store.queuedMessages().map((m) => m.id)).toEqual([fresh.id]);
      });

      it('requeues an interrupted message below the attempt limit, keeping its queue place', () => {
        const first = accept('first');
        const second = accept('second');
        store.startMessage(first.id);
        const result = store.recoverUnfinished({ maxAttempts: 2, reason: 'stopped', outboxFor: () => [] });
        expect(result.requeued.map((m) => m.id)).toEqual([first.id]);
        expect(store.queuedMessages().map((m) => m.id)).toEqual([first.id, second.id]);
        expect(store.getInbound(first.id)).toMatchObject({ status: 'received', attempts: 1 });
      });
    });

    describe('platform redeliveries', () => {
      const chat = (text: string, platformKey: string, sessionKey = 'tg:5', agent = 'a') =>
        store.acceptMessageOnce({
          agent,
          sessionKey,
          kind: 'user',
          source: 'tg',
          text,
          queued: true,
          platformKey,
        });

      it('commits a message once per platform key and session; a redelivery answers with the first', () => {
        const first = chat('hello', '["tg","5","41"]');
        expect(first.duplicate).toBe(false);
        const again = chat('hello', '["tg","5","41"]');
        expect(again).toEqual({ row: first.row, duplicate: true });
        // another message, the same message in another session or for another agent: all new
        expect(chat('next', '["tg","5","42"]').duplicate).toBe(false);
        expect(chat('hello', '["tg","5","41"]', 'tg:5:7').duplicate).toBe(false);
        expect(chat('hello', '["tg","5","41"]', 'tg:5', 'b').duplicate).toBe(false);
        // messages without a key are never deduplicated
        accept('same');
        accept('same');
        expect(store.queuedMessages().map((m) => m.text)).toEqual([
          'hello',
          'next',
          'hello',
          'hello',
          'same',
          'same',
        ]);
      });
    });

    describe('outbox', () => {
      function pending(): InboundRow {
        const m = accept('x');
        store.startMessage(m.id);
        store.failMessage({ messageId: m.id, runId: null, error: 'e', outbox: [webhook(m, { n: 1 })] });
        return m;
      }

      it('hands out due deliveries, retries later, and stops after delivery', () => {
        const m = pending();
        const key = `reply:${m.id}`;
        expect(store.nextOutboxDue()).toBe(at(0));
        expect(store.dueOutbox(at(0), 10).map((o) => o.key)).toEqual([key]);
        store.outboxRetry(key, { error: 'connection refused', nextAttemptAt: at(5000), giveUp: false });
        expect(store.dueOutbox(at(4999), 10)).toEqual([]);
        expect(store.nextOutboxDue()).toBe(at(5000));
        expect(store.getOutbox(key)).toMatchObject({ attempts: 1, lastError: 'connection refused' });
        now += 5000;
        store.outboxDelivered(key);
        expect(store.dueOutbox(at(10_000), 10)).toEqual([]);
        expect(store.nextOutboxDue()).toBeUndefined();
        expect(store.getOutbox(key)).toMatchObject({
          status: 'delivered',
          attempts: 2,
          deliveredAt: at(5000),
        });
        store.outboxDelivered(key); // twice: no change
        expect(store.getOutbox(key)?.attempts).toBe(2);
      });

      it('journals the parts of a delivery: the one being sent stays in doubt until confirmed', () => {
        const m = pending();
        const key = `reply:${m.id}`;
        expect(store.outboxJournal(key)).toEqual({ partsDone: 0, sendingPart: null });
        store.outboxSending(key, 0);
        expect(store.outboxJournal(key)).toEqual({ partsDone: 0, sendingPart: 0 });
        store.outboxPartSent(key, 0);
        store.outboxSending(key, 1);
        expect(store.outboxJournal(key)).toEqual({ partsDone: 1, sendingPart: 1 });
        store.outboxPartSent(key, 1);
        store.outboxPartSent(key, 0); // a repeated confirmation never moves it back
        expect(store.outboxJournal(key)).toEqual({ partsDone: 2, sendingPart: null });
        store.outboxDelivered(key);
        store.outboxSending(key, 2); // delivered: no longer changes
        expect(store.outboxJournal(key).sendingPart).toBeNull();
      });

      it('gives up on a delivery when told to', () => {
        const m = pending();
        store.outboxRetry(`reply:${m.id}`, { error: 'gone', nextAttemptAt: at(0), giveUp: true });
        expect(store.getOutbox(`reply:${m.id}`)?.status).toBe('failed');
        expect(store.dueOutbox(at(0), 10)).toEqual([]);
      });
    });

    describe('tasks', () => {
      const task = (over: Partial<Parameters<Store['createTask']>[0]> = {}) =>
        store.createTask({
          agent: 'a',
          prompt: 'report',
          kind: 'cron',
          schedule: '0 9 * * *',
          tz: 'Europe/Berlin',
          missed: 'run_once',
          nextRunAt: at(60_000),
          createdBy: 'operator',
          ...over,
        });

      it('creates, lists, finds due ones, records runs, pauses and deletes', () => {
        store.ensureAgent('a');
        store.ensureAgent('b');
        const t1 = task();
        const t2 = task({ agent: 'b', kind: 'every', schedule: '30000', tz: null, nextRunAt: at(30_000) });
        expect(t1).toMatchObject({ agent: 'a', paused: false, lastRunAt: null, createdAt: at(0) });
        expect(t1.id).toMatch(/^t-[0-9a-f]{8}$/);
        expect(store.listTasks().map((t) => t.id)).toEqual([t1.id, t2.id]);
        expect(store.listTasks('b').map((t) => t.id)).toEqual([t2.id]);
        expect(store.nextTaskDue()).toBe(at(30_000));
        expect(store.dueTasks(at(30_000)).map((t) => t.id)).toEqual([t2.id]);
        expect(store.dueTasks(at(60_000)).map((t) => t.id)).toEqual([t2.id, t1.id]);
        const m = accept('run');
        store.recordTaskRun(t2.id, { lastRunAt: at(30_000), lastMessageId: m.id, nextRunAt: at(90_000) });
        expect(store.getTask(t2.id)).toMatchObject({ lastRunAt: at(30_000), lastMessageId: m.id });
        expect(store.setTaskPaused(t1.id, true, null)).toMatchObject({ paused: true });
        expect(store.nextTaskDue()).toBe(at(90_000));
        store.setTaskNextRun(t2.id, null); // finished
        expect(store.nextTaskDue()).toBeUndefined();
        expect(store.deleteTask(t1.id)).toBe(true);
        expect(store.deleteTask(t1.id)).toBe(false);
        expectCorralError(() => store.setTaskPaused('t-missing', false, null), 'task_unknown');
      });

      it('refuses a task for an unknown agent and drops tasks with their agent', () => {
        expectCorralError(() => task({ agent: 'ghost' }), 'not_found');
        store.ensureAgent('a');
        const t = task();
        store.deleteAgent('a');
        expect(store.getTask(t.id)).toBeUndefined();
      });
    });
  });
}
