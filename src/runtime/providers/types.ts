// The model port: one streaming call in the provider-neutral transcript format, implemented per provider API.
import type { TurnErrorCode } from '../../protocol/frames.ts';
import type { ChatMessage, ContentBlock, Usage } from '../../protocol/transcript.ts';

export interface ToolSpec {
  name: string;
  description: string;
  /** JSON schema of the tool input (an object schema). */
  inputSchema: Record<string, unknown>;
}

export interface ModelRequest {
  system: string;
  messages: ChatMessage[];
  tools: ToolSpec[];
  model: string;
  maxTokens: number;
}

export interface ModelResult {
  content: ContentBlock[];
  stopReason: 'end' | 'tool_use' | 'max_tokens';
  usage: Usage;
}

export interface ModelClient {
  stream(req: ModelRequest, onText: (delta: string) => void, signal: AbortSignal): Promise<ModelResult>;
}

/** A failed model call, already classified into the turn_error code the host acts on (retry, alert, …). */
export class ModelError extends Error {
  constructor(
    readonly code: TurnErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'ModelError';
  }
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
