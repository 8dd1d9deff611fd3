// Compaction end to end short of a sandbox: the host's plan over a real SQLite session, the real runtime in-process
// and the stand-in model server speaking the Anthropic and OpenAI protocols. A long conversation compacts exactly
// once; the request after it carries the summary and only the recent turns; every reply still arrives.
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { defaultScript } from '../../test/fixtures/model-server.ts';
import type { Script } from '../../test/fixtures/model-server.ts';
import type { ProviderKind } from '../protocol/frames.ts';
import type { ChatMessage } from '../protocol/transcript.ts';
import { SUMMARISE_MARKER } from '../runtime/compact.ts';
import type { Harness } from '../runtime/testing.ts';
import { startHarness } from '../runtime/testing.ts';
import { openSqliteStore } from '../store/sqlite.ts';
import type { Store } from '../store/types.ts';
import { estimateTokens, planContext } from './compaction.ts';

let h: Harness | undefined;
let store: Store | undefined;
afterEach(async () => {
  await h?.close();
  store?.close();
  h = undefined;
  store = undefined;
});

const SUMMARY = 'SUMMARY: the user sent numbered notes; keep counting.';
const script: Script = (req) =>
  req.lastUserText?.startsWith(SUMMARISE_MARKER) === true
    ? { kind: 'text', text: SUMMARY }
    : defaultScript(req);

const WINDOW = 6000;
const note = (i: number): string => `note ${i}: ${'lorem ipsum dolor sit amet '.repeat(30)}`;

describe('planContext', () => {
  const turn = (i: number): ChatMessage[] => [
    { role: 'user', content: [{ type: 'text', text: note(i) }] },
    { role: 'assistant', content: [{ type: 'text', text: `echo: ${note(i)}` }] },
  ];
  const user: ChatMessage = { role: 'user', content: [{ type: 'text', text: 'next' }] };
  const base = { user, instructions: 'be brief', maxTokens: 500, window: WINDOW, threshold: 0.75 };

  it('sends everything while under the threshold', () => {
    const history = [...turn(1), ...turn(2)];
    expect(planContext({ ...base, history })).toEqual({ messages: [...history, user], covers: 0 });
  });

  it('past the threshold, keeps the newest whole turns and summarises the rest', () => {
    const history = Array.from({ length: 12 }, (_, i) => turn(i + 1)).flat();
    expect(estimateTokens(history)).toBeGreaterThan(0.75 * WINDOW);
    const plan = planContext({ ...base, history });
    expect(plan.compact?.messages.length).toBe(plan.covers);
    expect(plan.covers % 2).toBe(0); // never splits a turn
    expect(plan.messages[0]?.role).toBe('user');
    expect(plan.messages.at(-1)).toEqual(user);
    expect(estimateTokens(plan.messages)).toBeLessThanOrEqual(0.25 * WINDOW);
    // after a compaction, the summary and the turns after it are what counts
    const after = planContext({ ...base, history, latest: { covers: plan.covers, summary: 'S' } });
    expect(after).toEqual({
      messages: [...history.slice(plan.covers), user],
      summary: 'S',
      covers: plan.covers,
    });
  });
});

describe.each<ProviderKind>(['anthropic', 'openai'])('compaction through the runtime (%s)', (kind) => {
  it('compacts a long conversation once and the conversation goes on', async () => {
    h = await startHarness(kind, { script });
    store = openSqliteStore({ path: ':memory:', secretKey: randomBytes(32) });
    store.ensureAgent('a');
    const session = store.openSession('a', 'api:long');
    const compactions: { turn: number; summary: string }[] = [];
    const TURNS = 14;
    for (let i = 1; i <= TURNS; i++) {
      const user: ChatMessage = { role: 'user', content: [{ type: 'text', text: note(i) }] };
      const plan = planContext({
        history: store.transcript(session.id),
        latest: store.latestCompaction(session.id),
        user,
        instructions: 'You are a test agent.',
        maxTokens: 500,
        window: WINDOW,
        threshold: 0.75,
      });
      const { end, frames } = await h.turn(note(i), {
        messages: plan.messages,
        ...(plan.summary === undefined ? {} : { summary: plan.summary }),
        ...(plan.compact === undefined ? {} : { compact: plan.compact }),
        tools: [],
      });
      for (const f of frames)
        if (f.type === 'compacted') {
          store.saveCompaction(session.id, plan.covers, f.summary);
          compactions.push({ turn: i, summary: f.summary });
        }
      expect(end, JSON.stringify(end)).toMatchObject({ type: 'turn_end', text: `echo: ${note(i)}` });
      if (end.type === 'turn_end') store.appendTranscript(session.id, [user, ...end.messages]);
    }
    expect(compactions).toHaveLength(1);
    const at = compactions[0]?.turn ?? 0;
    expect(compactions[0]?.summary).toBe(SUMMARY);
    // the full transcript stays stored
    expect(store.transcript(session.id)).toHaveLength(2 * TURNS);

    // the requests of the compacting turn: first the summarisation of the oldest notes, then the turn itself
    const bodies = h.model.requests.map((r) => JSON.stringify(r.body));
    const summarising = bodies.findIndex((b) => b.includes(SUMMARISE_MARKER));
    expect(summarising).toBeGreaterThan(0);
    expect(bodies.filter((b) => b.includes(SUMMARISE_MARKER))).toHaveLength(1);
    expect(bodies[summarising]).toContain('note 1:');
    const next = bodies[summarising + 1] ?? '';
    expect(next).toContain(SUMMARY);
    expect(next).toContain(`note ${at}:`);
    expect(next).not.toContain('note 1:');
    // and every later request still carries the summary instead of the old notes
    for (const b of bodies.slice(summarising + 1)) {
      expect(b).toContain(SUMMARY);
      expect(b).not.toContain('note 1:');
    }
  });
});
