// Builds the system prompt: the agent's instructions plus its memory file, read fresh at the start of every turn.
import { readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { MEMORY_FILE, SANDBOX_WORKSPACE } from '../protocol/sandbox-env.ts';

export const MEMORY_MAX_CHARS = 20_000;
export const MEMORY_HEADING = '\n\n# Your memory file (MEMORY.md, you may edit it)\n';

/** The memory file's place in a given workspace (the fixed sandbox path, or a test's temp dir). */
export function memoryPath(workspace: string): string {
  return join(workspace, relative(SANDBOX_WORKSPACE, MEMORY_FILE));
}

export async function buildSystemPrompt(instructions: string, workspace: string): Promise<string> {
  let memory: string;
  try {
    memory = await readFile(memoryPath(workspace), 'utf8');
  } catch {
    return instructions; // no memory file yet (or unreadable): the agent simply has none
  }
  if (memory.length > MEMORY_MAX_CHARS) {
    const cut = memory.length - MEMORY_MAX_CHARS;
    memory = `${memory.slice(0, MEMORY_MAX_CHARS)}\n[memory file truncated: ${cut} more characters not shown; keep it shorter]`;
  }
  return instructions + MEMORY_HEADING + memory;
}
