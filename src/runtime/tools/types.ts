// The contract every tool implements: a zod input schema (also sent to the model as JSON schema) and a run
// function that never throws: failures come back as `isError` results the model can read.
import type { HostRequest } from '../../protocol/requests.ts';
import type * as z from '../../protocol/zod-mini.ts';

export interface ToolContext {
  /** Directory relative paths resolve against and commands run in. */
  workspace: string;
  /** Environment for processes the tools start (includes the HTTP(S)_PROXY pointing at the gateway bridge). */
  env: Record<string, string | undefined>;
  /** Loopback port of the gateway bridge, for tools that speak HTTP themselves. */
  bridgePort: number;
  /**
   * Asks the host to act for the agent (over the control stream); absent where no host answers requests.
   * `attachment`: bytes sent ahead of the request (send_file), in chunks the host reassembles.
   */
  host?: (request: HostRequest, signal: AbortSignal, attachment?: Buffer) => Promise<ToolResult>;
}

export interface ToolResult {
  output: string;
  isError: boolean;
}

export interface Tool<S extends z.ZodMiniType = z.ZodMiniType> {
  name: string;
  description: string;
  input: S;
  run(input: z.infer<S>, ctx: ToolContext, signal: AbortSignal): Promise<ToolResult>;
}

export const ok = (output: string): ToolResult => ({ output, isError: false });
export const fail = (output: string): ToolResult => ({ output, isError: true });

export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** The abort reason when a tool call reaches the agent's per-call time limit (as opposed to a cancel). */
export class ToolTimeLimit extends Error {
  constructor(readonly seconds: number) {
    super(`tool time limit ${seconds} s reached; the process group was stopped`);
    this.name = 'ToolTimeLimit';
  }
}
