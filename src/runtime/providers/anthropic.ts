// ModelClient for the Anthropic Messages API through the official SDK, streaming with messages.stream().
import Anthropic from '@anthropic-ai/sdk';
import type { ContentBlock } from '../../protocol/transcript.ts';
import { toModelError } from './errors.ts';
import { isRecord, ModelError } from './types.ts';
import type { ModelClient, ModelRequest, ModelResult, ToolSpec } from './types.ts';
import { stderrLogger } from './logger.ts';

function toParam(block: ContentBlock): Anthropic.ContentBlockParam {
  switch (block.type) {
    case 'text':
      return { type: 'text', text: block.text };
    case 'tool_use':
      return { type: 'tool_use', id: block.id, name: block.name, input: block.input };
    case 'tool_result':
      return {
        type: 'tool_result',
        tool_use_id: block.toolUseId,
        content: block.content,
        is_error: block.isError,
      };
  }
}

const toolParam = (t: ToolSpec): Anthropic.Tool => ({
  name: t.name,
  description: t.description,
  input_schema: { ...t.inputSchema, type: 'object' },
});

function fromMessage(msg: Anthropic.Message): ModelResult {
  const content: ContentBlock[] = [];
  for (const block of msg.content) {
    if (block.type === 'text') content.push({ type: 'text', text: block.text });
    else if (block.type === 'tool_use') {
      if (!isRecord(block.input))
        throw new ModelError(
          'model_bad_response',
          `anthropic: tool input for ${block.name} is not an object`,
        );
      content.push({ type: 'tool_use', id: block.id, name: block.name, input: block.input });
    }
  }
  const stopReason =
    msg.stop_reason === 'tool_use' ? 'tool_use' : msg.stop_reason === 'max_tokens' ? 'max_tokens' : 'end';
  const u = msg.usage;
  const usage = {
    inputTokens: u.input_tokens,
    outputTokens: u.output_tokens,
    cacheReadTokens: u.cache_read_input_tokens ?? 0,
    cacheWriteTokens: u.cache_creation_input_tokens ?? 0,
  };
  return { content, stopReason, usage };
}

export function createAnthropicClient(opts: {
  baseURL: string;
  apiKey: string;
  provider: string;
}): ModelClient {
  // Everything explicit: the SDK must not pick up keys, tokens or base URLs from the sandbox environment.
  const client = new Anthropic({
    apiKey: opts.apiKey,
    authToken: null,
    webhookKey: null,
    baseURL: opts.baseURL,
    maxRetries: 0,
    logger: stderrLogger,
    logLevel: 'warn',
  });
  return {
    async stream(req: ModelRequest, onText, signal) {
      try {
        const stream = client.messages.stream(
          {
            model: req.model,
            max_tokens: req.maxTokens,
            // Empty system and tools are left out rather than sent empty, which some servers reject.
            ...(req.system !== '' ? { system: req.system } : {}),
            messages: req.messages.map((m) => ({ role: m.role, content: m.content.map(toParam) })),
            ...(req.tools.length > 0 ? { tools: req.tools.map(toolParam) } : {}),
          },
          { signal },
        );
        stream.on('text', (delta) => onText(delta));
        return fromMessage(await stream.finalMessage());
      } catch (err) {
        throw toModelError(err, {
          provider: opts.provider,
          status:
            err instanceof Anthropic.APIError && typeof err.status === 'number' ? err.status : undefined,
          connection: err instanceof Anthropic.APIConnectionError,
          apiError: err instanceof Anthropic.APIError,
        });
      }
    },
  };
}
