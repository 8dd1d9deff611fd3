// Converts the provider-neutral transcript to OpenAI chat messages: tool results become `tool` messages that
// directly follow the assistant message whose tool_calls they answer.
import type OpenAI from 'openai';
import type { ChatMessage } from '../../protocol/transcript.ts';
import type { ToolSpec } from './types.ts';

type Param = OpenAI.ChatCompletionMessageParam;

export function toOpenAIMessages(system: string, messages: ChatMessage[]): Param[] {
  const out: Param[] = system !== '' ? [{ role: 'system', content: system }] : [];
  for (const msg of messages) {
    const text = msg.content.flatMap((b) => (b.type === 'text' ? [b.text] : [])).join('');
    if (msg.role === 'assistant') {
      const calls = msg.content.flatMap((b) =>
        b.type === 'tool_use'
          ? [
              {
                id: b.id,
                type: 'function' as const,
                function: { name: b.name, arguments: JSON.stringify(b.input) },
              },
            ]
          : [],
      );
      out.push({
        role: 'assistant',
        content: text === '' ? null : text,
        ...(calls.length > 0 ? { tool_calls: calls } : {}),
      });
      continue;
    }
    for (const b of msg.content) {
      if (b.type === 'tool_result') {
        // OpenAI has no error flag on tool messages, so the model learns of a failure from the text.
        out.push({
          role: 'tool',
          tool_call_id: b.toolUseId,
          content: b.isError ? `[error] ${b.content}` : b.content,
        });
      }
    }
    if (text !== '') out.push({ role: 'user', content: text });
  }
  return out;
}

export function toOpenAITools(tools: ToolSpec[]): OpenAI.ChatCompletionTool[] {
  return tools.map((t) => ({
    type: 'function',
    function: { name: t.name, description: t.description, parameters: t.inputSchema },
  }));
}
