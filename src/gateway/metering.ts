// Token usage read from a model response as it streams past: pure parsers fed raw bytes, never delaying the stream.
// Usage.inputTokens counts uncached input for both wire protocols (Anthropic reports it that way; OpenAI's
// prompt_tokens includes cached tokens, so they are subtracted), so one price table works for both.
import { StringDecoder } from 'node:string_decoder';
import { z } from 'zod';
import type { ProviderKind } from '../protocol/frames.ts';
import type { Usage } from '../protocol/transcript.ts';

/** A non-streamed JSON body larger than this is passed through unmetered rather than held in memory. */
export const MAX_METERED_JSON_BYTES = 16 * 1024 * 1024;
/** An SSE line longer than this is skipped: usage events are small, and a hostile upstream must not grow memory. */
export const MAX_SSE_LINE_CHARS = 1024 * 1024;
/**
 * Every event that carries usage has a `"usage": {` member; the rest (nearly all of a long stream: text deltas)
 * are not parsed at all, which makes metering about ten times cheaper on a large streamed answer.
 */
const MAY_CARRY_USAGE = /"usage"\s*:\s*\{/;

const Count = z.number().int().nonnegative();

const AnthropicUsage = z.object({
  input_tokens: Count.nullish(),
  output_tokens: Count.nullish(),
  cache_creation_input_tokens: Count.nullish(),
  cache_read_input_tokens: Count.nullish(),
});
const AnthropicEvent = z.union([
  z.object({ type: z.literal('message_start'), message: z.object({ usage: AnthropicUsage }) }),
  z.object({ type: z.literal('message_delta'), usage: AnthropicUsage }),
]);
const AnthropicBody = z.object({ usage: AnthropicUsage });

const OpenAIUsage = z.object({
  prompt_tokens: Count,
  completion_tokens: Count,
  prompt_tokens_details: z.object({ cached_tokens: Count.nullish() }).nullish(),
});
const OpenAIBody = z.object({ usage: OpenAIUsage });

type Partial = { input?: number; output?: number; cacheRead?: number; cacheWrite?: number };

/** Later values win: Anthropic's message_delta totals are cumulative and supersede message_start's. */
function mergeAnthropic(acc: Partial, u: z.infer<typeof AnthropicUsage>): Partial {
  return {
    input: u.input_tokens ?? acc.input,
    output: u.output_tokens ?? acc.output,
    cacheRead: u.cache_read_input_tokens ?? acc.cacheRead,
    cacheWrite: u.cache_creation_input_tokens ?? acc.cacheWrite,
  };
}

function fromOpenAI(u: z.infer<typeof OpenAIUsage>): Partial {
  const cached = Math.min(u.prompt_tokens_details?.cached_tokens ?? 0, u.prompt_tokens);
  return { input: u.prompt_tokens - cached, output: u.completion_tokens, cacheRead: cached, cacheWrite: 0 };
}

function toUsage(p: Partial): Usage | undefined {
  if (p.input === undefined && p.output === undefined) return undefined;
  return {
    inputTokens: p.input ?? 0,
    outputTokens: p.output ?? 0,
    cacheReadTokens: p.cacheRead ?? 0,
    cacheWriteTokens: p.cacheWrite ?? 0,
  };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** Folds one parsed SSE `data` payload or whole JSON body into the running total. */
function apply(kind: ProviderKind, acc: Partial, value: unknown, form: 'event' | 'body'): Partial {
  switch (kind) {
    case 'anthropic': {
      if (form === 'body') {
        const body = AnthropicBody.safeParse(value);
        return body.success ? mergeAnthropic(acc, body.data.usage) : acc;
      }
      const ev = AnthropicEvent.safeParse(value);
      if (!ev.success) return acc;
      return mergeAnthropic(acc, ev.data.type === 'message_start' ? ev.data.message.usage : ev.data.usage);
    }
    case 'openai': {
      // Streamed chunks and whole bodies carry `usage` the same way (streams only with include_usage).
      const body = OpenAIBody.safeParse(value);
      return body.success ? fromOpenAI(body.data.usage) : acc;
    }
  }
}

export interface UsageMeter {
  push(chunk: Buffer): void;
  /** The usage seen so far; undefined when the response carried none (an error, count_tokens, no include_usage). */
  result(): Usage | undefined;
}

/** Server-sent events: splits lines across chunk boundaries, joins multi-line `data`, dispatches on blank lines. */
function sseMeter(kind: ProviderKind): UsageMeter {
  const decoder = new StringDecoder('utf8');
  let acc: Partial = {};
  let line = '';
  let skipping = false;
  let data: string[] = [];

  const dispatch = (): void => {
    if (data.length > 0) {
      const payload = data.join('\n');
      if (MAY_CARRY_USAGE.test(payload)) acc = apply(kind, acc, parseJson(payload), 'event');
    }
    data = [];
  };
  const onLine = (raw: string): void => {
    const l = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (l === '') dispatch();
    else if (l.startsWith('data:')) data.push(l.slice(l.startsWith('data: ') ? 6 : 5));
  };

  return {
    push(chunk) {
      const text = decoder.write(chunk);
      let start = 0;
      for (let nl = text.indexOf('\n'); nl >= 0; nl = text.indexOf('\n', start)) {
        if (!skipping) onLine(line + text.slice(start, nl));
        line = '';
        skipping = false;
        start = nl + 1;
      }
      if (skipping) return;
      line += text.slice(start);
      if (line.length > MAX_SSE_LINE_CHARS) {
        line = '';
        skipping = true;
      }
    },
    result() {
      // A stream cut off without its final blank line still counts what it delivered.
      if (!skipping && line !== '') onLine(line);
      line = '';
      dispatch();
      return toUsage(acc);
    },
  };
}

function jsonMeter(kind: ProviderKind): UsageMeter {
  const chunks: Buffer[] = [];
  let size = 0;
  let tooLarge = false;
  return {
    push(chunk) {
      if (tooLarge) return;
      size += chunk.length;
      if (size > MAX_METERED_JSON_BYTES) {
        tooLarge = true;
        chunks.length = 0;
      } else chunks.push(chunk);
    },
    result() {
      if (tooLarge) return undefined;
      return toUsage(apply(kind, {}, parseJson(Buffer.concat(chunks).toString('utf8')), 'body'));
    },
  };
}

/** Picks the parser from the response's content type; anything else is not metered. */
export function createUsageMeter(kind: ProviderKind, contentType: string | undefined): UsageMeter {
  const type = (contentType ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  if (type === 'text/event-stream') return sseMeter(kind);
  if (type === 'application/json') return jsonMeter(kind);
  return { push: () => undefined, result: () => undefined };
}
