// Model calls through a real gateway: the official SDKs in front, the stand-in model server behind.
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { startModelServer } from '../../test/fixtures/model-server.ts';
import type { Harness } from './test-harness.ts';
import { request, startBridge, startHarness, unusedLoopbackPort } from './test-harness.ts';

const ANTHROPIC_KEY = 'sk-ant-api03-real-anthropic-key-0123456789';
const OPENAI_KEY = 'sk-proj-real-openai-key-9876543210';
const PLACEHOLDER = 'placeholder-key-from-the-sandbox';

let model: Awaited<ReturnType<typeof startModelServer>>;
let h: Harness;
let bridge: Awaited<ReturnType<typeof startBridge>>;

beforeAll(async () => {
  model = await startModelServer();
});
afterAll(async () => {
  await model.close();
});
beforeEach(async () => {
  model.requests.length = 0;
  h = await startHarness();
  h.providers.set('anthropic', {
    name: 'anthropic',
    kind: 'anthropic',
    baseUrl: model.url,
    keySecret: 'ANTHROPIC_API_KEY',
  });
  h.providers.set('openai', {
    name: 'openai',
    kind: 'openai',
    baseUrl: `${model.url}/v1`,
    keySecret: 'OPENAI_API_KEY',
  });
  h.secrets.set('ANTHROPIC_API_KEY', ANTHROPIC_KEY);
  h.secrets.set('OPENAI_API_KEY', OPENAI_KEY);
  bridge = await startBridge(h.endpoint.socketPath);
});
afterEach(async () => {
  await bridge.close();
  await h.close();
  // No key in any log line or audit entry, whatever the test did.
  const recorded = JSON.stringify([h.logs, h.audit]);
  expect(recorded).not.toContain(ANTHROPIC_KEY);
  expect(recorded).not.toContain(OPENAI_KEY);
});

const anthropic = (): Anthropic =>
  new Anthropic({
    apiKey: PLACEHOLDER,
    baseURL: `http://127.0.0.1:${bridge.port}/model/anthropic`,
    maxRetries: 0,
  });
const openai = (): OpenAI =>
  new OpenAI({ apiKey: PLACEHOLDER, baseURL: `http://127.0.0.1:${bridge.port}/model/openai`, maxRetries: 0 });

describe('anthropic route', () => {
  it('streams a message with the real key injected and meters its usage', async () => {
    const stream = anthropic().messages.stream({
      model: 'claude-test',
      max_tokens: 100,
      messages: [{ role: 'user', content: 'hello there' }],
    });
    const msg = await stream.finalMessage();
    expect(msg.content).toMatchObject([{ type: 'text', text: 'echo: hello there' }]);

    const seen = model.requests[0]?.headers;
    expect(seen?.['x-api-key']).toBe(ANTHROPIC_KEY);
    expect(seen?.authorization).toBeUndefined();
    expect(JSON.stringify(seen)).not.toContain(PLACEHOLDER);

    expect(msg.usage.output_tokens).toBeGreaterThan(1); // message_delta's total, not message_start's placeholder
    expect(h.usage).toEqual([
      {
        agent: 'alice',
        sandboxId: 'sb-1',
        provider: 'anthropic',
        model: 'claude-test',
        usage: {
          inputTokens: msg.usage.input_tokens,
          outputTokens: msg.usage.output_tokens,
          cacheReadTokens: 0,
          cacheWriteTokens: 0,
        },
      },
    ]);
    expect(h.audit).toEqual([
      {
        actor: 'agent:alice',
        action: 'model.call',
        subject: 'provider:anthropic',
        detail: { sandboxId: 'sb-1', provider: 'anthropic', model: 'claude-test', status: 200 },
      },
    ]);
  });

  it('meters a non-streamed message', async () => {
    const msg = await anthropic().messages.create({
      model: 'claude-test',
      max_tokens: 100,
      messages: [{ role: 'user', content: 'bash: ls' }],
    });
    expect(msg.stop_reason).toBe('tool_use');
    expect(h.usage.map((u) => u.usage)).toEqual([
      {
        inputTokens: msg.usage.input_tokens,
        outputTokens: msg.usage.output_tokens,
        cacheReadTokens: 0,
        cacheWriteTokens: 0,
      },
    ]);
  });

  it('answers 502 with the fix when the key secret is not set', async () => {
    h.secrets.delete('ANTHROPIC_API_KEY');
    const err: unknown = await anthropic()
      .messages.create({ model: 'claude-test', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.APIError);
    expect(err).toMatchObject({ status: 502 });
    const res = await request(h.endpoint.socketPath, {
      method: 'POST',
      path: '/model/anthropic/v1/messages',
      headers: { 'content-type': 'application/json' },
      body: '{"model":"m"}',
    });
    expect(res.status).toBe(502);
    expect(JSON.parse(res.body)).toEqual({
      error: {
        type: 'corral_missing_secret',
        message:
          'secret ANTHROPIC_API_KEY is not set; run: printf %s "$KEY" | corral secret set ANTHROPIC_API_KEY',
      },
    });
    expect(model.requests).toHaveLength(0);
  });
});

describe('openai route', () => {
  it('streams a completion with a bearer key and meters the include_usage chunk', async () => {
    const stream = await openai().chat.completions.create({
      model: 'gpt-test',
      messages: [{ role: 'user', content: 'hi' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = '';
    let usage: OpenAI.CompletionUsage | null | undefined;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? '';
      usage = chunk.usage ?? usage;
    }
    expect(text).toBe('echo: hi');
    const seen = model.requests[0]?.headers;
    expect(seen?.authorization).toBe(`Bearer ${OPENAI_KEY}`);
    expect(seen?.['x-api-key']).toBeUndefined();
    expect(JSON.stringify(seen)).not.toContain(PLACEHOLDER);
    expect(usage).toBeTruthy();
    expect(h.usage).toEqual([
      {
        agent: 'alice',
        sandboxId: 'sb-1',
        provider: 'openai',
        model: 'gpt-test',
        usage: {
          inputTokens: usage?.prompt_tokens,
          outputTokens: usage?.completion_tokens,
          cacheReadTokens: 0,
          cacheWriteTokens: 0,
        },
      },
    ]);
  });
});

describe('cancellation', () => {
  it('stops the upstream call when the sandbox goes away, and audits it once', async () => {
    const hanging = await startModelServer({ script: () => ({ kind: 'hang' }) });
    try {
      h.providers.set('slow', {
        name: 'slow',
        kind: 'anthropic',
        baseUrl: hanging.url,
        keySecret: 'ANTHROPIC_API_KEY',
      });
      const abort = new AbortController();
      const client = new Anthropic({
        apiKey: PLACEHOLDER,
        baseURL: `http://127.0.0.1:${bridge.port}/model/slow`,
        maxRetries: 0,
      });
      const call = client.messages
        .create(
          { model: 'claude-test', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] },
          { signal: abort.signal },
        )
        .catch((e: unknown) => e);
      await vi.waitFor(() => expect(hanging.requests).toHaveLength(1));
      abort.abort();
      expect(await call).toBeInstanceOf(Anthropic.APIUserAbortError);
      await vi.waitFor(() =>
        expect(h.audit).toMatchObject([{ action: 'model.call', detail: { provider: 'slow', status: 499 } }]),
      );
      expect(h.usage).toEqual([]);
    } finally {
      await hanging.close();
    }
  });
});

describe('route limits', () => {
  it('answers 404 for paths, methods and providers it does not forward', async () => {
    const cases: [string, string][] = [
      ['GET', '/model/anthropic/v1/messages'],
      ['POST', '/model/anthropic/v1/models'],
      ['POST', '/model/anthropic/v1/messages/../files'],
      ['POST', '/model/openai/v1/chat/completions'], // openai base URLs already end in /v1
      ['POST', '/model/nobody/v1/messages'],
      ['POST', '/model'],
    ];
    for (const [method, path] of cases) {
      const res = await request(h.endpoint.socketPath, {
        method,
        path,
        body: method === 'POST' ? '{}' : undefined,
      });
      expect(res.status, `${method} ${path}`).toBe(404);
      expect(res.headers['content-type']).toBe('application/json');
    }
    expect(model.requests).toHaveLength(0);
  });

  it('answers 502 naming the base URL when the provider is down', async () => {
    const baseUrl = `http://127.0.0.1:${await unusedLoopbackPort()}`;
    h.providers.set('down', { name: 'down', kind: 'anthropic', baseUrl, keySecret: 'ANTHROPIC_API_KEY' });
    const res = await request(h.endpoint.socketPath, {
      method: 'POST',
      path: '/model/down/v1/messages',
      body: '{"model":"m"}',
    });
    expect(res.status).toBe(502);
    expect(res.body).toContain(baseUrl);
    expect(res.body).toContain('refused');
    expect(h.audit.at(-1)).toMatchObject({
      action: 'model.call',
      detail: { provider: 'down', model: 'm', status: 502 },
    });
  });

  it('answers 413 for a declared body over the cap without contacting the provider', async () => {
    const res = await request(h.endpoint.socketPath, {
      method: 'POST',
      path: '/model/anthropic/v1/messages',
      headers: { 'content-length': 17 * 1024 * 1024 },
    });
    expect(res.status).toBe(413);
    expect(model.requests).toHaveLength(0);
  });
});
