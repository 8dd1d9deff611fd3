// Usage parsers fed real-shaped response bytes, split at every byte (inside JSON, inside "\r\n", inside a UTF-8 char).
import { describe, expect, it } from 'vitest';
import type { ProviderKind } from '../protocol/frames.ts';
import type { Usage } from '../protocol/transcript.ts';
import { createUsageMeter } from './metering.ts';

const anthropicSse = [
  'event: message_start',
  'data: {"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","model":"claude-x","content":[],"stop_reason":null,"usage":{"input_tokens":25,"cache_creation_input_tokens":7,"cache_read_input_tokens":100,"output_tokens":1}}}',
  '',
  'event: ping',
  'data: {"type": "ping"}',
  '',
  'event: content_block_delta',
  'data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"héllo ✓ wörld"}}',
  '',
  'event: message_delta',
  'data: {"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":15}}',
  '',
  'event: message_stop',
  'data: {"type":"message_stop"}',
  '',
  '',
].join('\r\n');

const openaiSse = [
  'data: {"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"ünïcode"}}],"usage":null}',
  '',
  'data: {"id":"c1","object":"chat.completion.chunk","choices":[],"usage":{"prompt_tokens":120,"completion_tokens":9,"total_tokens":129,"prompt_tokens_details":{"cached_tokens":100}}}',
  '',
  'data: [DONE]',
  '',
  '',
].join('\n');

function meterAll(kind: ProviderKind, type: string | undefined, parts: Buffer[]): Usage | undefined {
  const meter = createUsageMeter(kind, type);
  for (const p of parts) meter.push(p);
  return meter.result();
}

/** The fixture cut in two at every byte, plus delivered one byte at a time. */
function byteSplits(text: string): Buffer[][] {
  const bytes = Buffer.from(text);
  const all: Buffer[][] = [];
  for (let i = 0; i <= bytes.length; i++) all.push([bytes.subarray(0, i), bytes.subarray(i)]);
  all.push([...bytes].map((b) => Buffer.from([b])));
  return all;
}

describe('Anthropic usage', () => {
  const want = { inputTokens: 25, outputTokens: 15, cacheReadTokens: 100, cacheWriteTokens: 7 };

  it('reads message_start and message_delta from SSE split at any byte', () => {
    for (const parts of byteSplits(anthropicSse))
      expect(meterAll('anthropic', 'text/event-stream; charset=utf-8', parts)).toEqual(want);
  });

  it('counts a stream cut off after message_start', () => {
    const cut = anthropicSse.slice(0, anthropicSse.indexOf('event: ping'));
    expect(meterAll('anthropic', 'text/event-stream', [Buffer.from(cut)])).toEqual({
      ...want,
      outputTokens: 1,
    });
  });

  it('reads a non-streamed JSON body', () => {
    const body = JSON.stringify({
      id: 'msg_1',
      type: 'message',
      content: [{ type: 'text', text: 'hi' }],
      usage: { input_tokens: 3, output_tokens: 4, cache_read_input_tokens: null },
    });
    for (const parts of byteSplits(body))
      expect(meterAll('anthropic', 'application/json', parts)).toEqual({
        inputTokens: 3,
        outputTokens: 4,
        cacheReadTokens: 0,
        cacheWriteTokens: 0,
      });
  });

  it('finds no usage in an error body, count_tokens, or malformed events', () => {
    const error = '{"type":"error","error":{"type":"overloaded_error","message":"busy"}}';
    expect(meterAll('anthropic', 'application/json', [Buffer.from(error)])).toBeUndefined();
    expect(meterAll('anthropic', 'application/json', [Buffer.from('{"input_tokens":12}')])).toBeUndefined();
    const bad = 'event: message_start\ndata: {"type":"message_start","message":\n\n';
    expect(meterAll('anthropic', 'text/event-stream', [Buffer.from(bad)])).toBeUndefined();
  });
});

describe('OpenAI usage', () => {
  it('reads the final usage chunk of a stream split at any byte, cached tokens apart', () => {
    for (const parts of byteSplits(openaiSse))
      expect(meterAll('openai', 'text/event-stream', parts)).toEqual({
        inputTokens: 20,
        outputTokens: 9,
        cacheReadTokens: 100,
        cacheWriteTokens: 0,
      });
  });

  it('reads a non-streamed JSON body', () => {
    const body =
      '{"id":"c1","choices":[],"usage":{"prompt_tokens":5,"completion_tokens":6,"total_tokens":11}}';
    expect(meterAll('openai', 'application/json', [Buffer.from(body)])).toEqual({
      inputTokens: 5,
      outputTokens: 6,
      cacheReadTokens: 0,
      cacheWriteTokens: 0,
    });
  });

  it('finds no usage in a stream without include_usage', () => {
    const stream = 'data: {"choices":[{"delta":{"content":"x"}}]}\n\ndata: [DONE]\n\n';
    expect(meterAll('openai', 'text/event-stream', [Buffer.from(stream)])).toBeUndefined();
  });
});

describe('content types', () => {
  it('does not meter other content types', () => {
    const body = '{"usage":{"prompt_tokens":5,"completion_tokens":6}}';
    expect(meterAll('openai', 'text/plain', [Buffer.from(body)])).toBeUndefined();
    expect(meterAll('openai', undefined, [Buffer.from(body)])).toBeUndefined();
  });

  it('skips an overlong SSE line and still reads the events after it', () => {
    // 2 MiB of one line in socket-sized chunks, so the cap is hit before the line ends.
    const long = Array.from({ length: 32 }, (_, i) =>
      Buffer.from(`${i === 0 ? 'data: ' : ''}${'x'.repeat(65536)}`),
    );
    const usage = Buffer.from('\n\ndata: {"usage":{"prompt_tokens":1,"completion_tokens":2}}\n\n');
    expect(meterAll('openai', 'text/event-stream', [...long, usage])).toEqual({
      inputTokens: 1,
      outputTokens: 2,
      cacheReadTokens: 0,
      cacheWriteTokens: 0,
    });
  });
});
