// The Store contract: one suite every implementation must pass (SQLite today, Postgres later).
// Implementations must honour the injected clock, so timestamps here are exact values.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ChatMessage } from '../protocol/transcript.ts';
import { CorralError } from '../util/errors.ts';
import { GENESIS, hashEntry } from '../audit/chain.ts';
import type { Store } from './types.ts';
import { runQueueContract } from './queue.contract.ts';
import { runUsageContract } from './usage.contract.ts';

export interface StoreFactoryOptions {
  clock: () => Date;
}
export type StoreFactory = (opts: StoreFactoryOptions) => { store: Store; cleanup: () => void };

const T0 = Date.parse('2024-03-01T12:00:00.000Z');

export function expectCorralError(fn: () => unknown, code: string): CorralError {
  try {
    fn();
  } catch (err) {
    if (err instanceof CorralError && err.code === code) return err;
    throw new Error(`expected CorralError ${code}, got ${String(err)}`, { cause: err });
  }
  throw new Error(`expected CorralError ${code}, nothing was thrown`);
}

export function runStoreContract(name: string, makeStore: StoreFactory): void {
  runUsageContract(name, makeStore);
  runQueueContract(name, makeStore);
  describe(`Store contract: ${name}`, () => {
    let store: Store;
    let cleanup: () => void;
    let now = T0;
    const at = (ms: number): string => new Date(T0 + ms).toISOString();
    const tick = (ms: number): void => {
      now += ms;
    };

    beforeEach(() => {
      now = T0;
      ({ store, cleanup } = makeStore({ clock: () => new Date(now) }));
    });
    afterEach(() => cleanup());

    /** An agent with a session, a user message and a run with one tool call and usage. */
    function populate(agent: string) {
      store.ensureAgent(agent);
      const session = store.openSession(agent, 'chat');
      const message = store.recordMessage({
        sessionId: session.id,
        role: 'user',
        text: 'hi',
        status: 'received',
      });
      const run = store.startRun({ sessionId: session.id, messageId: message.id });
      store.recordToolCall({ id: `call-${agent}`, runId: run.id, name: 'bash', input: { cmd: 'ls' } });
      store.appendTranscript(session.id, [{ role: 'user', content: [{ type: 'text', text: 'hi' }] }]);
      store.recordUsage({
        agent,
        runId: run.id,
        provider: 'anthropic',
        model: 'm',
        usage: { inputTokens: 1, outputTokens: 2, cacheReadTokens: 0, cacheWriteTokens: 0 },
      });
      return { session, message, run };
    }

    describe('agents', () => {
      it('ensureAgent creates once and returns the same row afterwards', () => {
        const a = store.ensureAgent('alpha');
        tick(1000);
        const again = store.ensureAgent('alpha');
        expect(again).toEqual(a);
        expect(a.createdAt).toBe(at(0));
        expect(Number.isInteger(a.id)).toBe(true);
        expect(store.getAgent('alpha')).toEqual(a);
        expect(store.getAgent('nobody')).toBeUndefined();
      });

      it('lists agents by name', () => {
        store.ensureAgent('charlie');
        store.ensureAgent('alpha');
        store.ensureAgent('bravo');
        expect(store.listAgents().map((a) => a.name)).toEqual(['alpha', 'bravo', 'charlie']);
      });

      it('deleteAgent removes its sessions, messages, runs, tool calls, transcript and usage, and nothing else', () => {
        const doomed = populate('doomed');
        const kept = populate('kept');
        store.deleteAgent('doomed');
        expect(store.getAgent('doomed')).toBeUndefined();
        expect(store.getMessage(doomed.message.id)).toBeUndefined();
        expect(store.listMessages(doomed.session.id)).toEqual([]);
        expect(store.getRun(doomed.run.id)).toBeUndefined();
        expect(store.listToolCalls(doomed.run.id)).toEqual([]);
        expect(store.transcript(doomed.session.id)).toEqual([]);
        expect(store.listUsage('doomed')).toEqual([]);
        expect(store.getMessage(kept.message.id)?.text).toBe('hi');
        expect(store.listToolCalls(kept.run.id)).toHaveLength(1);
        expect(store.transcript(kept.session.id)).toHaveLength(1);
        expect(store.listUsage()).toHaveLength(1);
        // Re-creating the agent starts from scratch: a new session, not the old one.
        store.ensureAgent('doomed');
        expect(store.openSession('doomed', 'chat').id).not.toBe(doomed.session.id);
      });

      it('deleteAgent of an unknown agent is a no-op', () => {
        store.ensureAgent('alpha');
        store.deleteAgent('nobody');
        expect(store.listAgents()).toHaveLength(1);
      });
    });

    describe('sessions', () => {
      it('openSession returns the same session for the same (agent, key)', () => {
        store.ensureAgent('a');
        store.ensureAgent('b');
        const s1 = store.openSession('a', 'telegram:42');
        tick(5000);
        expect(store.openSession('a', 'telegram:42')).toEqual(s1);
        expect(s1).toMatchObject({ agent: 'a', key: 'telegram:42', createdAt: at(0) });
        expect(store.openSession('a', 'telegram:43').id).not.toBe(s1.id);
        expect(store.openSession('b', 'telegram:42').id).not.toBe(s1.id);
      });

      it('refuses a session for an unknown agent', () => {
        expectCorralError(() => store.openSession('ghost', 'k'), 'not_found');
      });
    });

    describe('transcript', () => {
      const user: ChatMessage = { role: 'user', content: [{ type: 'text', text: 'list files' }] };
      const call: ChatMessage = {
        role: 'assistant',
        content: [
          { type: 'text', text: 'sure' },
          { type: 'tool_use', id: 'tu_1', name: 'bash', input: { cmd: 'ls', nested: { n: [1, 2] } } },
        ],
      };
      const result: ChatMessage = {
        role: 'user',
        content: [{ type: 'tool_result', toolUseId: 'tu_1', content: 'a\nb', isError: false }],
      };

      it('appends across calls and reads back oldest first, exactly', () => {
        store.ensureAgent('a');
        const s = store.openSession('a', 'k');
        const other = store.openSession('a', 'other');
        expect(store.transcript(s.id)).toEqual([]);
        store.appendTranscript(s.id, [user, call]);
        store.appendTranscript(other.id, [user]);
        store.appendTranscript(s.id, [result]);
        store.appendTranscript(s.id, []);
        expect(store.transcript(s.id)).toEqual([user, call, result]);
        expect(store.transcript(other.id)).toEqual([user]);
      });

      it('rejects an invalid message and stores none of the batch', () => {
        store.ensureAgent('a');
        const s = store.openSession('a', 'k');
        const bad: unknown = JSON.parse('{"role":"system","content":[]}');
        const batch: unknown[] = [user, bad];
        expectCorralError(
          () => store.appendTranscript(s.id, batch.filter(isChatMessageLike)),
          'invalid_transcript',
        );
        expect(store.transcript(s.id)).toEqual([]);
      });

      it('refuses to append to an unknown session', () => {
        expectCorralError(() => store.appendTranscript('no-such-session', [user]), 'not_found');
      });
    });

    describe('messages', () => {
      it('records, updates status and error, and lists in order', () => {
        store.ensureAgent('a');
        const s = store.openSession('a', 'k');
        const m1 = store.recordMessage({ sessionId: s.id, role: 'user', text: 'one', status: 'received' });
        const m2 = store.recordMessage({ sessionId: s.id, role: 'assistant', text: 'two', status: 'done' });
        expect(m1).toMatchObject({
          sessionId: s.id,
          role: 'user',
          text: 'one',
          status: 'received',
          error: null,
        });
        expect(m1.createdAt).toBe(at(0));
        expect(m1.id).not.toBe(m2.id);
        store.setMessageStatus(m1.id, 'failed', 'sandbox died');
        expect(store.getMessage(m1.id)).toEqual({ ...m1, status: 'failed', error: 'sandbox died' });
        store.setMessageStatus(m1.id, 'done');
        expect(store.getMessage(m1.id)?.error).toBeNull();
        expect(store.listMessages(s.id).map((m) => m.text)).toEqual(['one', 'two']);
        expect(store.getMessage('missing')).toBeUndefined();
      });

      it('refuses a message for an unknown session and a status for an unknown message', () => {
        expectCorralError(
          () => store.recordMessage({ sessionId: 'nope', role: 'user', text: 'x', status: 'received' }),
          'not_found',
        );
        expectCorralError(() => store.setMessageStatus('nope', 'done'), 'not_found');
      });
    });

    describe('runs and tool calls', () => {
      it('starts and finishes a run with its tool calls', () => {
        const { session, message, run } = populate('a');
        expect(run).toEqual({
          id: run.id,
          sessionId: session.id,
          messageId: message.id,
          status: 'running',
          stopReason: null,
          error: null,
          startedAt: at(0),
          endedAt: null,
        });
        expect(store.getRun(run.id)).toEqual(run);
        store.recordToolCall({ id: 'call-2', runId: run.id, name: 'read', input: { path: '/w/x' } });
        tick(250);
        store.finishToolCall('call-a', { output: 'file1\n', isError: false, durationMs: 250 });
        store.finishToolCall('call-2', { output: 'ENOENT', isError: true, durationMs: 3 });
        expect(store.listToolCalls(run.id)).toEqual([
          {
            id: 'call-a',
            runId: run.id,
            name: 'bash',
            input: { cmd: 'ls' },
            output: 'file1\n',
            isError: false,
            durationMs: 250,
          },
          {
            id: 'call-2',
            runId: run.id,
            name: 'read',
            input: { path: '/w/x' },
            output: 'ENOENT',
            isError: true,
            durationMs: 3,
          },
        ]);
        tick(750);
        store.finishRun(run.id, { status: 'done', stopReason: 'end_turn' });
        expect(store.getRun(run.id)).toEqual({
          ...run,
          status: 'done',
          stopReason: 'end_turn',
          endedAt: at(1000),
        });
      });

      it('records a failed run with its error', () => {
        const { run } = populate('a');
        store.finishRun(run.id, { status: 'failed', error: 'timeout' });
        expect(store.getRun(run.id)).toMatchObject({ status: 'failed', stopReason: null, error: 'timeout' });
      });

      it('refuses unknown ids and duplicate tool call ids', () => {
        const { run } = populate('a');
        expect(store.getRun('nope')).toBeUndefined();
        expectCorralError(() => store.finishRun('nope', { status: 'done' }), 'not_found');
        expectCorralError(() => store.startRun({ sessionId: 'nope', messageId: 'nope' }), 'not_found');
        expectCorralError(
          () => store.recordToolCall({ id: 'x', runId: 'nope', name: 'n', input: {} }),
          'not_found',
        );
        expectCorralError(
          () => store.finishToolCall('nope', { output: '', isError: false, durationMs: 0 }),
          'not_found',
        );
        expectCorralError(
          () => store.recordToolCall({ id: 'call-a', runId: run.id, name: 'bash', input: {} }),
          'tool_call_duplicate',
        );
      });
    });

    describe('usage', () => {
      it('records usage and filters by agent', () => {
        const { run } = populate('a');
        store.ensureAgent('b');
        tick(10);
        store.recordUsage({
          agent: 'b',
          runId: null,
          provider: 'openai',
          model: 'gpt',
          usage: { inputTokens: 100, outputTokens: 20, cacheReadTokens: 5, cacheWriteTokens: 7 },
        });
        expect(store.listUsage('a')).toEqual([
          {
            agent: 'a',
            sessionId: run.sessionId,
            runId: run.id,
            provider: 'anthropic',
            model: 'm',
            usage: { inputTokens: 1, outputTokens: 2, cacheReadTokens: 0, cacheWriteTokens: 0 },
            createdAt: at(0),
          },
        ]);
        expect(store.listUsage('b')).toEqual([
          {
            agent: 'b',
            sessionId: null,
            runId: null,
            provider: 'openai',
            model: 'gpt',
            usage: { inputTokens: 100, outputTokens: 20, cacheReadTokens: 5, cacheWriteTokens: 7 },
            createdAt: at(10),
          },
        ]);
        expect(store.listUsage().map((u) => u.agent)).toEqual(['a', 'b']);
      });

      it('refuses usage for an unknown agent or negative token counts', () => {
        const usage = { inputTokens: 1, outputTokens: 1, cacheReadTokens: 0, cacheWriteTokens: 0 };
        expectCorralError(
          () => store.recordUsage({ agent: 'ghost', runId: null, provider: 'p', model: 'm', usage }),
          'not_found',
        );
        store.ensureAgent('a');
        expect(() =>
          store.recordUsage({
            agent: 'a',
            runId: null,
            provider: 'p',
            model: 'm',
            usage: { ...usage, inputTokens: -1 },
          }),
        ).toThrow();
        expect(store.listUsage()).toEqual([]);
      });
    });

    describe('secrets', () => {
      it('stores, overwrites, lists without values, and deletes', () => {
        expect(store.readSecret('api')).toBeUndefined();
        store.putSecret('api', 'sk-first');
        tick(60_000);
        store.putSecret('api', 'sk-second');
        store.putSecret('aaa', '');
        expect(store.readSecret('api')).toBe('sk-second');
        expect(store.readSecret('aaa')).toBe('');
        expect(store.listSecrets()).toEqual([
          { name: 'aaa', createdAt: at(60_000), updatedAt: at(60_000) },
          { name: 'api', createdAt: at(0), updatedAt: at(60_000) },
        ]);
        expect(JSON.stringify(store.listSecrets())).not.toContain('sk-');
        expect(store.deleteSecret('api')).toBe(true);
        expect(store.deleteSecret('api')).toBe(false);
        expect(store.readSecret('api')).toBeUndefined();
      });

      it('binds a secret to hosts, keeps the binding when the value rotates, drops it with the secret', () => {
        expectCorralError(
          () => store.setSecretBinding('gh', { hosts: ['x.test'], header: null }),
          'not_found',
        );
        store.putSecret('gh', 'ghp-one');
        store.setSecretBinding('gh', {
          hosts: ['api.x.test', '*.y.test:8443'],
          header: 'Authorization: Bearer {}',
        });
        store.putSecret('gh', 'ghp-two');
        expect(store.listSecretBindings()).toEqual([
          {
            name: 'gh',
            hosts: ['api.x.test', '*.y.test:8443'],
            header: 'Authorization: Bearer {}',
            updatedAt: at(0),
          },
        ]);
        expect(JSON.stringify(store.listSecretBindings())).not.toContain('ghp-');
        store.setSecretBinding('gh', null);
        expect(store.listSecretBindings()).toEqual([]);
        store.setSecretBinding('gh', { hosts: ['api.x.test'], header: null });
        store.deleteSecret('gh');
        expect(store.listSecretBindings()).toEqual([]);
      });
    });

    describe('audit', () => {
      it('chains entries from GENESIS with hashes that recompute', () => {
        expect(store.verifyAudit()).toEqual({ ok: true, count: 0 });
        const e1 = store.appendAudit({ actor: 'host', action: 'agent.create', subject: 'agent:a' });
        tick(1);
        const e2 = store.appendAudit({
          actor: 'user:ann',
          action: 'secret.put',
          subject: 'secret:api',
          detail: { z: 1, a: { y: [1, 'two'] } },
        });
        expect(e1).toMatchObject({ seq: 1, at: at(0), detail: {}, prevHash: GENESIS });
        expect(e1.hash).toBe(hashEntry(GENESIS, e1));
        expect(e2).toMatchObject({
          seq: 2,
          at: at(1),
          prevHash: e1.hash,
          detail: { z: 1, a: { y: [1, 'two'] } },
        });
        expect(e2.hash).toBe(hashEntry(e1.hash, e2));
        expect(store.listAudit()).toEqual([e1, e2]);
        expect(store.verifyAudit()).toEqual({ ok: true, count: 2 });
      });

      it('stores detail as JSON would (undefined dropped, dates as strings) and still verifies', () => {
        const e = store.appendAudit({
          actor: 'host',
          action: 'x',
          subject: 's',
          detail: { gone: undefined, when: new Date(T0) },
        });
        expect(e.detail).toEqual({ when: at(0) });
        expect(store.listAudit()[0]).toEqual(e);
        expect(store.verifyAudit()).toEqual({ ok: true, count: 1 });
      });

      it('lists the newest entries oldest first, filtered by subject', () => {
        for (let i = 1; i <= 5; i++) {
          store.appendAudit({ actor: 'host', action: `a${i}`, subject: i % 2 === 0 ? 'even' : 'odd' });
        }
        expect(store.listAudit({ limit: 2 }).map((e) => e.seq)).toEqual([4, 5]);
        expect(store.listAudit({ subject: 'odd' }).map((e) => e.seq)).toEqual([1, 3, 5]);
        expect(store.listAudit({ subject: 'odd', limit: 2 }).map((e) => e.action)).toEqual(['a3', 'a5']);
        expect(store.listAudit({ subject: 'none' })).toEqual([]);
        expectCorralError(() => store.listAudit({ limit: 1.5 }), 'invalid_argument');
      });
    });
  });
}

/** Lets the rejection test hand a deliberately invalid message to a ChatMessage[] parameter without a cast. */
function isChatMessageLike(value: unknown): value is ChatMessage {
  return typeof value === 'object' && value !== null;
}
