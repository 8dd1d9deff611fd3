// Compaction inside the turn: the host asked for older turns to be summarised, so one model call (through the
// gateway, like every call) turns them, with the summary they extend, into a new summary that stands in for them.
import type { ChatMessage, ContentBlock } from '../protocol/transcript.ts';
import type { Usage } from '../protocol/transcript.ts';
import type { ModelClient } from './providers/types.ts';

export const SUMMARY_HEADING =
  '\n\n# Summary of the earlier conversation (older turns were compacted into this)\n';
/** Marks the summarisation request; the text after it is the conversation. */
export const SUMMARISE_MARKER = '<conversation to summarise>';
/** Long tool inputs and outputs are cut in what is summarised: the gist matters, not the bytes. */
const BLOCK_CHARS = 2000;

const SUMMARISE_SYSTEM =
  'You compact a conversation between a user and an AI agent so the agent can continue without it. Write a ' +
  'concise summary: the goals, decisions and their reasons, facts learned, names, file paths, commands that ' +
  'worked, and what is still open. Write it as notes to yourself, not as a reply to the user. Facts the agent ' +
  'must keep for good belong in its memory file (MEMORY.md), which is kept separately and is not part of this.';

const cut = (s: string): string => (s.length > BLOCK_CHARS ? `${s.slice(0, BLOCK_CHARS)} […]` : s);

function renderBlock(b: ContentBlock): string {
  switch (b.type) {
    case 'text':
      return b.text;
    case 'tool_use':
      return `[tool call ${b.name} ${cut(JSON.stringify(b.input))}]`;
    case 'tool_result':
      return `[tool result${b.isError ? ' (error)' : ''}: ${cut(b.content)}]`;
  }
}

export function renderConversation(messages: ChatMessage[], previous: string | undefined): string {
  const lines = messages.map((m) => `${m.role.toUpperCase()}: ${m.content.map(renderBlock).join('\n')}`);
  const before = previous === undefined ? '' : `SUMMARY OF WHAT CAME BEFORE: ${previous}\n\n`;
  return `${SUMMARISE_MARKER}\n${before}${lines.join('\n\n')}`;
}

export async function summarise(
  client: ModelClient,
  req: { model: string; maxTokens: number; messages: ChatMessage[]; previous?: string },
  signal: AbortSignal,
): Promise<{ summary: string; usage: Usage }> {
  const text = renderConversation(req.messages, req.previous);
  const result = await client.stream(
    {
      system: SUMMARISE_SYSTEM,
      messages: [{ role: 'user', content: [{ type: 'text', text }] }],
      tools: [],
      model: req.model,
      maxTokens: req.maxTokens,
    },
    () => undefined,
    signal,
  );
  const summary = result.content.flatMap((b) => (b.type === 'text' ? [b.text] : [])).join('');
  return { summary: summary.trim(), usage: result.usage };
}
