// Provider-neutral conversation format shared by host (which stores it) and runtime (which sends it to a model).
import * as z from './zod-mini.ts';

export const TextBlock = z.object({ type: z.literal('text'), text: z.string() });
export const ToolUseBlock = z.object({
  type: z.literal('tool_use'),
  id: z.string().check(z.minLength(1)),
  name: z.string().check(z.minLength(1)),
  input: z.record(z.string(), z.unknown()),
});
export const ToolResultBlock = z.object({
  type: z.literal('tool_result'),
  toolUseId: z.string().check(z.minLength(1)),
  content: z.string(),
  isError: z.boolean(),
});
export const ContentBlock = z.discriminatedUnion('type', [TextBlock, ToolUseBlock, ToolResultBlock]);
export type ContentBlock = z.infer<typeof ContentBlock>;

export const ChatMessage = z.object({
  role: z.enum(['user', 'assistant']),
  content: z.array(ContentBlock),
});
export type ChatMessage = z.infer<typeof ChatMessage>;

export const Usage = z.object({
  inputTokens: z.int().check(z.nonnegative()),
  outputTokens: z.int().check(z.nonnegative()),
  cacheReadTokens: z._default(z.int().check(z.nonnegative()), 0),
  cacheWriteTokens: z._default(z.int().check(z.nonnegative()), 0),
});
export type Usage = z.infer<typeof Usage>;
