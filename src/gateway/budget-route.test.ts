// A spent budget through a real gateway: refused before the provider is contacted, in each provider's error
// format so the official SDKs surface the message, and turned by the runtime into a budget_exhausted turn error.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startModelServer } from '../../test/fixtures/model-server.ts';
import type { ProviderKind } from '../protocol/frames.ts';
import { startHarness as startRuntimeHarness } from '../runtime/testing.ts';
import { createLogger } from '../util/log.ts';
import type { BudgetVerdict } from './budget.ts';
import { createGateway } from './gateway.ts';
import { startBridge } from './test-harness.ts';
import type { Gateway, GatewayDeps, ProviderRoute } from './types.ts';

const MESSAGE =
  'budget exhausted for agent alice: $4.02 of $4.00 today; raise it with corral agent set alice --budget-usd N/day';

let model: Awaited<ReturnType<typeof startModelServer>>;
let gateway: Gateway;
let bridge: Awaited<ReturnType<typeof startBridge>>;
let dir: string;
let verdict: BudgetVerdict;
let audit: Parameters<GatewayDeps['audit']>[0][];
const checked: string[] = [];

beforeEach(async () => {
  model = await startModelServer();
  dir = await mkdtemp(path.join(tmpdir(), 'corral-budget-'));
  verdict = { ok: true };
  audit = [];
  checked.length = 0;
  const providers = new Map<string, ProviderRoute>();
  for (const kind of ['anthropic', 'openai'] as const) {
    const baseUrl = kind === 'openai' ? `${model.url}/v1` : model.url;
    for (const name of [kind, `stand-in-${kind}`])
      providers.set(name, { name, kind, baseUrl, keySecret: 'K' });
  }
  gateway = createGateway({
    providers: () => providers,
    readSecret: () => 'real-key',
    onUsage: () => undefined,
    audit: (e) => void audit.push(e),
    log: createLogger({ level: 'error', write: () => undefined }),
    checkBudget: (agent) => {
      checked.push(agent);
      return verdict;
    },
  });
  const endpoint = await gateway.attach({
    agent: 'alice',
    sandboxId: 'sb',
    socketPath: path.join(dir, 'gw.sock'),
  });
  bridge = await startBridge(endpoint.socketPath);
});
afterEach(async () => {
  await bridge.close();
  await gateway.close();
  await model.close();
  await rm(dir, { recursive: true, force: true });
});

const refusals = () => audit.filter((e) => e.detail?.['error'] === 'budget exhausted');

describe('a model call over budget', () => {
  it('anthropic SDK: allowed while within budget, then a 429 with the message and no retry', async () => {
    // default retries on: x-should-retry must stop them
    const client = new Anthropic({ apiKey: 'p', baseURL: `http://127.0.0.1:${bridge.port}/model/anthropic` });
    const ask = () =>
      client.messages.create({ model: 'm', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] });
    await ask();
    expect(model.requests).toHaveLength(1);
    verdict = { ok: false, message: MESSAGE };
    const err: unknown = await ask().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.RateLimitError);
    expect(err instanceof Anthropic.APIError && err.message).toContain(MESSAGE);
    const headers: unknown = err instanceof Anthropic.APIError ? err.headers : undefined;
    expect(headers instanceof Headers && headers.get('x-corral-error')).toBe('corral_budget_exhausted');
    expect(model.requests).toHaveLength(1);
    expect(refusals()).toHaveLength(1);
    expect(checked).toEqual(['alice', 'alice']);
  });

  it('openai SDK: the message is the error message itself', async () => {
    const client = new OpenAI({ apiKey: 'p', baseURL: `http://127.0.0.1:${bridge.port}/model/openai` });
    verdict = { ok: false, message: MESSAGE };
    const err: unknown = await client.chat.completions
      .create({ model: 'gpt', messages: [{ role: 'user', content: 'hi' }] })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.RateLimitError);
    expect(err instanceof OpenAI.APIError && err.message).toBe(`429 ${MESSAGE}`);
    expect(err instanceof OpenAI.APIError && err.code).toBe('corral_budget_exhausted');
    expect(model.requests).toHaveLength(0);
    expect(refusals()).toHaveLength(1);
  });

  it.each<ProviderKind>(['anthropic', 'openai'])(
    '%s: the runtime reports budget_exhausted with the message',
    async (kind) => {
      verdict = { ok: false, message: MESSAGE };
      const rt = await startRuntimeHarness(kind, {
        modelBaseURL: () => `http://127.0.0.1:${bridge.port}/model/stand-in-${kind}`,
      });
      try {
        const { end } = await rt.turn('hi');
        expect(end).toEqual({
          type: 'turn_error',
          turnId: end.turnId,
          code: 'budget_exhausted',
          message: MESSAGE,
        });
        expect(model.requests).toHaveLength(0);
      } finally {
        await rt.close();
      }
    },
  );
});
