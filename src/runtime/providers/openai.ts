// ModelClient for OpenAI-compatible chat completions through the official SDK: streamed, with usage in the
// final chunk, tool calls assembled from their deltas.
import OpenAI from 'openai';
import type { ContentBlock, Usage } from '../../protocol/transcript.ts';
import { toModelError } from './errors.ts';
import { stderrLogger } from './logger.ts';
import { toOpenAIMessages, toOpenAITools } from './openai-messages.ts';
import { isRecord, ModelError } from './types.ts';
import type { ModelClient, ModelRequest, ModelResult } from './types.ts';

interface PendingCall {
  id: string;
  name: string;
  args: string;
}

function parseArgs(call: PendingCall): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = call.args.trim() === '' ? {} : JSON.parse(call.args);
  } catch {
    throw new ModelError(
      'model_bad_response',
      `openai: arguments of tool call ${call.name} are not valid JSON`,
    );
  }
  if (!isRecord(parsed))
    throw new ModelError(
      'model_bad_response',
      `openai: arguments of tool call ${call.name} are not an object`,
    );
  return parsed;
}

const STOP: Record<string, ModelResult['stopReason']> = {
  stop: 'end',
  tool_calls: 'tool_use',
  length: 'max_tokens',
};

async function collect(
  stream: AsyncIterable<OpenAI.ChatCompletionChunk>,
  onText: (d: string) => void,
): Promise<ModelResult> {
  let text = '';
  let finish: string | null = null;
  let usage: Usage = { inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0 };
  const calls: PendingCall[] = [];
  for await (const chunk of stream) {
    if (chunk.usage) {
      const cached = chunk.usage.prompt_tokens_details?.cached_tokens ?? 0;
      // Like Anthropic's input_tokens, inputTokens excludes the cached part, so the two providers add up alike.
      usage = {
        inputTokens: chunk.usage.prompt_tokens - cached,
        outputTokens: chunk.usage.completion_tokens,
        cacheReadTokens: cached,
        cacheWriteTokens: 0,
      };
    }
    const choice = chunk.choices[0];
    if (!choice) continue;
    if (choice.delta.content) {
      text += choice.delta.content;
      onText(choice.delta.content);
    }
    for (const d of choice.delta.tool_calls ?? []) {
      const call = (calls[d.index] ??= { id: '', name: '', args: '' });
      call.id ||= d.id ?? '';
      call.name ||= d.function?.name ?? '';
      call.args += d.function?.arguments ?? '';
    }
    finish = choice.finish_reason ?? finish;
  }
  if (finish === null)
    throw new ModelError('model_bad_response', 'openai: stream ended without a finish_reason');
  const content: ContentBlock[] = text !== '' ? [{ type: 'text', text }] : [];
  for (const call of calls) {
    if (!call.id || !call.name)
      throw new ModelError('model_bad_response', 'openai: tool call without id or name');
    content.push({ type: 'tool_use', id: call.id, name: call.name, input: parseArgs(call) });
  }
  const stopReason = calls.length > 0 ? 'tool_use' : (STOP[finish] ?? 'end');
  return { content, stopReason, usage };
}

export function createOpenAIClient(opts: { baseURL: string; apiKey: string; provider: string }): ModelClient {
  // Everything explicit: the SDK must not pick up keys, organisations or base URLs from the sandbox environment.
  const client = new OpenAI({
    apiKey: opts.apiKey,
    baseURL: opts.baseURL,
    organization: null,
    project: null,
    webhookSecret: null,
    maxRetries: 0,
    logger: stderrLogger,
    logLevel: 'warn',
  });
  return {
    async stream(req: ModelRequest, onText, signal) {
      try {
        const stream = await client.chat.completions.create(
          {
            model: req.model,
            max_completion_tokens: req.maxTokens,
            messages: toOpenAIMessages(req.system, req.messages),
            ...(req.tools.length > 0 ? { tools: toOpenAITools(req.tools) } : {}),
            stream: true,
            stream_options: { include_usage: true },
          },
          { signal },
        );
        return await collect(stream, onText);
      } catch (err) {
        throw toModelError(err, {
          provider: opts.provider,
          status: err instanceof OpenAI.APIError && typeof err.status === 'number' ? err.status : undefined,
          connection: err instanceof OpenAI.APIConnectionError,
          apiError: err instanceof OpenAI.APIError,
        });
      }
    },
  };
}
