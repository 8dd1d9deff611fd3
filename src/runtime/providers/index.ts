// Chooses the ModelClient for a turn's ModelRef and says where it reaches the model: the gateway bridge route.
import type { ModelRef } from '../../protocol/frames.ts';
import { modelRoutePrefix } from '../../protocol/sandbox-env.ts';
import { createAnthropicClient } from './anthropic.ts';
import { createOpenAIClient } from './openai.ts';
import type { ModelClient } from './types.ts';

/** What the runtime sends as API key; the host-side gateway replaces it with the real one, which never enters. */
export const PLACEHOLDER_API_KEY = 'corral-gateway';

export type ModelBaseURL = (model: ModelRef, bridgePort: number) => string;

export const gatewayModelBaseURL: ModelBaseURL = (model, bridgePort) =>
  `http://127.0.0.1:${bridgePort}${modelRoutePrefix(model.provider)}`;

export function createModelClient(model: ModelRef, baseURL: string): ModelClient {
  const opts = { baseURL, apiKey: PLACEHOLDER_API_KEY, provider: model.provider };
  switch (model.kind) {
    case 'anthropic':
      return createAnthropicClient(opts);
    case 'openai':
      return createOpenAIClient(opts);
  }
}
