// The metering fast path: only events with a `"usage": {` member are parsed, spaced JSON included, and text
// that merely mentions usage (escaped inside a JSON string) changes nothing.
import { describe, expect, it } from 'vitest';
import { createUsageMeter } from './metering.ts';

const sse = (...events: string[]): Buffer => Buffer.from(events.map((e) => `data: ${e}\n\n`).join(''));

describe('metering fast path', () => {
  it('parses usage events written with spaces, and ignores usage-looking text', () => {
    const meter = createUsageMeter('anthropic', 'text/event-stream');
    const trick = JSON.stringify({
      type: 'content_block_delta',
      index: 0,
      delta: { type: 'text_delta', text: '"usage":{"input_tokens":999} and "usage" : {"output_tokens":999}' },
    });
    meter.push(
      sse(
        '{ "type" : "message_start", "message" : { "usage" : { "input_tokens" : 5, "output_tokens" : 1 } } }',
        trick,
        '{"type":"message_delta","usage" :\n{"output_tokens":7}}'.replace('\n', ' '),
      ),
    );
    expect(meter.result()).toEqual({
      inputTokens: 5,
      outputTokens: 7,
      cacheReadTokens: 0,
      cacheWriteTokens: 0,
    });
  });

  it('skips OpenAI chunks whose usage is null and reads the final one', () => {
    const meter = createUsageMeter('openai', 'text/event-stream');
    meter.push(
      sse(
        '{"choices":[{"delta":{"content":"hi"}}],"usage":null}',
        '{"choices":[],"usage":{"prompt_tokens":10,"completion_tokens":3,"prompt_tokens_details":{"cached_tokens":4}}}',
        '[DONE]',
      ),
    );
    expect(meter.result()).toEqual({
      inputTokens: 6,
      outputTokens: 3,
      cacheReadTokens: 4,
      cacheWriteTokens: 0,
    });
  });
});
