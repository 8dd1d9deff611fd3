// The agent loop of one turn: call the model, run the tools it asks for, feed the results back, until the model
// ends its turn, the step budget is spent, or the host cancels. Everything it does is reported as frames.
import type { RuntimeFrame, TurnFrame } from '../protocol/frames.ts';
import type { ChatMessage, ContentBlock } from '../protocol/transcript.ts';
import type { ModelClient } from './providers/types.ts';
import { ModelError } from './providers/types.ts';
import { SUMMARY_HEADING, summarise } from './compact.ts';
import { buildSystemPrompt } from './system-prompt.ts';
import { runTool, toolSpecs } from './tools/index.ts';
import type { ToolContext, ToolResult } from './tools/types.ts';
import { ToolTimeLimit } from './tools/types.ts';

export interface TurnDeps {
  client: ModelClient;
  tools: ToolContext;
  emit: (frame: RuntimeFrame) => void;
  signal: AbortSignal;
}

const textOf = (content: ContentBlock[]): string =>
  content.flatMap((b) => (b.type === 'text' ? [b.text] : [])).join('');

/** Runs one tool call under the turn's signal and, when set, the per-call time limit. */
async function runLimited(
  limitMs: number | undefined,
  turn: AbortSignal,
  run: (signal: AbortSignal) => Promise<ToolResult>,
): Promise<ToolResult> {
  if (limitMs === undefined) return run(turn);
  const ctl = new AbortController();
  const onTurnAbort = (): void => ctl.abort(turn.reason);
  turn.addEventListener('abort', onTurnAbort, { once: true });
  const timer = setTimeout(() => ctl.abort(new ToolTimeLimit(Math.round(limitMs / 1000))), limitMs);
  try {
    const result = await run(ctl.signal);
    const reason: unknown = ctl.signal.reason;
    // tools that do not report the limit themselves still tell the model why they stopped
    if (reason instanceof ToolTimeLimit && !result.output.includes(reason.message))
      return { output: `${result.output}\n[${reason.message}]`, isError: true };
    return result;
  } finally {
    clearTimeout(timer);
    turn.removeEventListener('abort', onTurnAbort);
  }
}

export async function runTurn(turn: TurnFrame, deps: TurnDeps): Promise<void> {
  const { turnId } = turn;
  const { emit, signal } = deps;
  const added: ChatMessage[] = [];
  let finalText = '';
  const end = (stopReason: 'end' | 'max_steps' | 'cancelled'): void =>
    emit({ type: 'turn_end', turnId, stopReason, text: finalText, messages: added });

  let summary = turn.summary;
  if (turn.compact !== undefined) {
    try {
      const done = await summarise(
        deps.client,
        { model: turn.model.model, maxTokens: turn.model.maxTokens, ...turn.compact },
        signal,
      );
      emit({ type: 'usage', turnId, usage: done.usage });
      emit({ type: 'compacted', turnId, summary: done.summary });
      summary = done.summary;
    } catch (err) {
      if (signal.aborted) return end('cancelled');
      const code = err instanceof ModelError ? err.code : 'internal';
      const message = `compacting the conversation failed: ${err instanceof Error ? err.message : String(err)}`;
      return emit({ type: 'turn_error', turnId, code, message });
    }
  }
  const instructions =
    summary === undefined ? turn.instructions : turn.instructions + SUMMARY_HEADING + summary;
  const system = await buildSystemPrompt(instructions, deps.tools.workspace);
  const tools = toolSpecs(turn.tools);
  for (let step = 0; step < turn.maxSteps; step++) {
    if (signal.aborted) return end('cancelled');
    const request = {
      system,
      messages: [...turn.messages, ...added],
      tools,
      model: turn.model.model,
      maxTokens: turn.model.maxTokens,
    };
    let result;
    try {
      result = await deps.client.stream(request, (delta) => emit({ type: 'text', turnId, delta }), signal);
    } catch (err) {
      if (signal.aborted) return end('cancelled');
      const code = err instanceof ModelError ? err.code : 'internal';
      const message = err instanceof Error ? err.message : String(err);
      return emit({ type: 'turn_error', turnId, code, message });
    }
    emit({ type: 'usage', turnId, usage: result.usage });
    added.push({ role: 'assistant', content: result.content });
    finalText = textOf(result.content);
    const uses = result.content.flatMap((b) => (b.type === 'tool_use' ? [b] : []));
    if (result.stopReason !== 'tool_use' || uses.length === 0) return end('end');

    // Every tool_use gets a tool_result, also when cancelled, so the transcript stays valid for the next turn.
    const results: ContentBlock[] = [];
    for (const use of uses) {
      emit({ type: 'tool_call', turnId, callId: use.id, name: use.name, input: use.input });
      const started = Date.now();
      const outcome = signal.aborted
        ? { output: 'cancelled before it ran', isError: true }
        : await runLimited(turn.toolTimeoutMs, signal, (s) =>
            runTool(turn.tools, use.name, use.input, deps.tools, s),
          );
      const durationMs = Date.now() - started;
      emit({
        type: 'tool_result',
        turnId,
        callId: use.id,
        output: outcome.output,
        isError: outcome.isError,
        durationMs,
      });
      results.push({
        type: 'tool_result',
        toolUseId: use.id,
        content: outcome.output,
        isError: outcome.isError,
      });
    }
    added.push({ role: 'user', content: results });
  }
  end(signal.aborted ? 'cancelled' : 'max_steps');
}
