// The tool registry: the tools a turn enables, their JSON schemas for the model, and the one entry point the
// loop uses to run a call (validation included), which never throws.
import * as z from '../../protocol/zod-mini.ts';
import type { ToolName } from '../../protocol/frames.ts';
import type { ToolSpec } from '../providers/types.ts';
import { bashTool } from './bash.ts';
import { editFileTool } from './edit-file.ts';
import { scheduleTaskTool, sendMessageTool } from './host-tools.ts';
import { listFilesTool } from './list-files.ts';
import { readFileTool } from './read-file.ts';
import { sendFileTool } from './send-file.ts';
import type { Tool, ToolContext, ToolResult } from './types.ts';
import { errorText, fail } from './types.ts';
import { webFetchTool } from './web-fetch.ts';
import { writeFileTool } from './write-file.ts';

// Each entry is checked against Tool<its own schema> where it is defined; here they only need the common shape.
interface ToolEntry {
  spec: ToolSpec;
  call: (input: unknown, ctx: ToolContext, signal: AbortSignal) => Promise<ToolResult>;
}

const TOOLS: Record<ToolName, ToolEntry> = {
  bash: entry(bashTool),
  read_file: entry(readFileTool),
  write_file: entry(writeFileTool),
  edit_file: entry(editFileTool),
  list_files: entry(listFilesTool),
  web_fetch: entry(webFetchTool),
  schedule_task: entry(scheduleTaskTool),
  send_message: entry(sendMessageTool),
  send_file: entry(sendFileTool),
};

function entry<S extends z.ZodMiniType>(tool: Tool<S>): ToolEntry {
  const { $schema: _drop, ...inputSchema } = z.toJSONSchema(tool.input);
  return {
    spec: { name: tool.name, description: tool.description, inputSchema },
    call: async (input, ctx, signal) => {
      const parsed = tool.input.safeParse(input);
      if (!parsed.success) return fail(`invalid input for ${tool.name}: ${z.prettifyError(parsed.error)}`);
      try {
        return await tool.run(parsed.data, ctx, signal);
      } catch (err) {
        return fail(`${tool.name} failed: ${errorText(err)}`); // a tool bug must not end the turn
      }
    },
  };
}

export function toolSpecs(enabled: readonly ToolName[]): ToolSpec[] {
  return enabled.map((name) => TOOLS[name].spec);
}

/** Runs a call the model made; a tool this turn did not enable is an error result, not an exception. */
export function runTool(
  enabled: readonly ToolName[],
  name: string,
  input: unknown,
  ctx: ToolContext,
  signal: AbortSignal,
): Promise<ToolResult> {
  const known = enabled.find((n) => n === name);
  if (known === undefined) return Promise.resolve(fail(`unknown or disabled tool: ${name}`));
  return TOOLS[known].call(input, ctx, signal);
}
