// When a session's conversation nears the model's context window, older turns are summarised (compaction): the
// host plans what a turn sends (the latest summary plus the turns after it) and, past the threshold, asks the
// runtime to summarise the oldest turns first. The full transcript always stays in the store.
import type { ChatMessage } from '../protocol/transcript.ts';

/** Context window of a model the price table says nothing about (tokens). */
export const DEFAULT_CONTEXT_WINDOW = 128_000;
/** Compact once the estimated request exceeds this share of the window. */
export const DEFAULT_COMPACT_THRESHOLD = 0.75;
/** After compacting, the recent turns kept verbatim take at most this share of the window. */
const KEEP_RECENT_SHARE = 0.25;
/** Rough tokens per character of JSON: errs on the side of compacting early. */
const CHARS_PER_TOKEN = 4;

export function estimateTokens(x: unknown): number {
  return Math.ceil((typeof x === 'string' ? x.length : JSON.stringify(x).length) / CHARS_PER_TOKEN);
}

export interface ContextPlan {
  /** what the turn sends: the turns after the summary, ending in the new message */
  messages: ChatMessage[];
  summary?: string;
  compact?: { messages: ChatMessage[]; previous?: string };
  /** transcript entries the summary stands for once this turn's compaction is saved */
  covers: number;
}

/** A turn starts at a user message that is not a tool result: only there may the kept part begin. */
const startsTurn = (m: ChatMessage): boolean => m.role === 'user' && m.content.some((b) => b.type === 'text');

export function planContext(opts: {
  history: ChatMessage[];
  latest?: { covers: number; summary: string } | undefined;
  user: ChatMessage;
  instructions: string;
  /** output tokens reserved for the reply */
  maxTokens: number;
  window: number;
  threshold: number;
}): ContextPlan {
  const base = Math.min(opts.latest?.covers ?? 0, opts.history.length);
  const recent = opts.history.slice(base);
  const summary = opts.latest?.summary;
  const keep: ContextPlan = {
    messages: [...recent, opts.user],
    ...(summary === undefined ? {} : { summary }),
    covers: base,
  };
  const fixed = estimateTokens(opts.instructions) + estimateTokens(opts.user) + opts.maxTokens;
  const total = fixed + estimateTokens(summary ?? '') + estimateTokens(recent);
  if (total <= opts.threshold * opts.window) return keep;
  // keep the newest turns that fit in the recent share; everything before them is summarised
  const budget = KEEP_RECENT_SHARE * opts.window - fixed;
  let split: number | undefined;
  let size = 0;
  for (let i = recent.length - 1; i >= 1; i--) {
    const m = recent[i];
    if (m === undefined) break;
    size += estimateTokens(m);
    if (size > budget) break;
    if (startsTurn(m)) split = i;
  }
  // the newest turn alone is too big to keep apart from the rest: summarise all but it
  if (split === undefined) {
    for (let i = recent.length - 1; i >= 1; i--) if (startsTurn(recent[i] ?? opts.user)) return cut(i);
    return keep; // one giant turn: nothing to compact
  }
  return cut(split);

  function cut(k: number): ContextPlan {
    return {
      messages: [...recent.slice(k), opts.user],
      compact: { messages: recent.slice(0, k), ...(summary === undefined ? {} : { previous: summary }) },
      covers: base + k,
    };
  }
}
