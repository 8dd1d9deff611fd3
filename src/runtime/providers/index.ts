// Chooses the ModelClient for a turn's ModelRef and says where it reaches the model: the gateway bridge route.
import type { ModelRef } from '../../protocol/frames.ts';
import { modelRoutePrefix } from '../../protocol/sandbox-env.ts';
import type { ModelClient } from './types.ts';

/** What the runtime sends as API key; the host-side gateway replaces it with the real one, which never enters. */
export const PLACEHOLDER_API_KEY = 'corral-gateway';

export type ModelBaseURL = (model: ModelRef, bridgePort: number) => string;

export const gatewayModelBaseURL: ModelBaseURL = (model, bridgePort) =>
  `http://127.0.0.1:${bridgePort}${modelRoutePrefix(model.provider)}`;

type ClientFactory = (opts: { baseURL: string; apiKey: string; provider: string }) => ModelClient;

// The SDKs are most of the runtime's code: loading them on demand keeps sandbox start short.
const loaders: Record<ModelRef['kind'], () => Promise<ClientFactory>> = {
  anthropic: () => import('./anthropic.ts').then((m) => m.createAnthropicClient),
  openai: () => import('./openai.ts').then((m) => m.createOpenAIClient),
};

/** Loads both SDKs in the background, once the runtime has reported ready and waits for its first turn. */
export function preloadProviders(): void {
  for (const load of Object.values(loaders)) load().catch(() => undefined);
}

export function createModelClient(model: ModelRef, baseURL: string): ModelClient {
  const opts = { baseURL, apiKey: PLACEHOLDER_API_KEY, provider: model.provider };
  let client: Promise<ModelClient> | undefined;
  return {
    stream: async (req, onText, signal) => {
      client ??= loaders[model.kind]().then((create) => create(opts));
      return (await client).stream(req, onText, signal);
    },
  };
}
