// The control stream between host and runtime: newline-delimited JSON, each line one member of these unions,
// validated on arrival on both sides. The runtime never receives a secret through this stream.
import * as z from './zod-mini.ts';
import { HostRequest } from './requests.ts';
import { FILE_CHUNK_BYTES, PROTOCOL_VERSION } from './wire.ts';
import { ChatMessage, Usage } from './transcript.ts';

export { MAX_FRAME_BYTES, PROTOCOL_VERSION } from './wire.ts';

export const ProviderKind = z.enum(['anthropic', 'openai']);
export type ProviderKind = z.infer<typeof ProviderKind>;

export const ToolName = z.enum([
  'bash',
  'read_file',
  'write_file',
  'edit_file',
  'list_files',
  'web_fetch',
  'schedule_task',
  'send_message',
  'send_file',
]);
export type ToolName = z.infer<typeof ToolName>;

export const ModelRef = z.object({
  provider: z
    .string()
    .check(
      z.minLength(1),
      z.describe('provider name; the runtime reaches it at the gateway route /model/<provider>'),
    ),
  kind: ProviderKind,
  model: z.string().check(z.minLength(1)),
  maxTokens: z.int().check(z.positive()),
});
export type ModelRef = z.infer<typeof ModelRef>;

// host → runtime
export const TurnFrame = z.object({
  type: z.literal('turn'),
  turnId: z.string().check(z.minLength(1)),
  instructions: z
    .string()
    .check(z.describe('the agent instructions; the runtime appends the memory file it reads itself')),
  messages: z
    .array(ChatMessage)
    .check(z.minLength(1), z.describe('the whole conversation, ending in the new user message')),
  model: ModelRef,
  tools: z.array(ToolName),
  maxSteps: z.int().check(z.positive(), z.describe('model calls allowed in this turn')),
  summary: z.optional(
    z.string().check(z.describe('summary of the earlier turns left out of `messages` (after a compaction)')),
  ),
  compact: z.optional(
    z
      .object({
        messages: z.array(ChatMessage).check(z.minLength(1)),
        previous: z.optional(z.string()),
      })
      .check(
        z.describe(
          'older turns to summarise first (with the summary they extend); the summary replaces them in this turn',
        ),
      ),
  ),
  toolTimeoutMs: z.optional(
    z.int().check(z.positive(), z.describe('wall-clock limit of one tool call; the tool is stopped at it')),
  ),
});
export const CancelFrame = z.object({ type: z.literal('cancel'), turnId: z.string().check(z.minLength(1)) });
export const ShutdownFrame = z.object({ type: z.literal('shutdown') });
export const RequestResultFrame = z.object({
  type: z.literal('request_result'),
  turnId: z.string(),
  requestId: z.string(),
  output: z.string().check(z.describe('what the tool returns to the model')),
  isError: z.boolean(),
});
export const HostFrame = z.discriminatedUnion('type', [
  TurnFrame,
  CancelFrame,
  ShutdownFrame,
  RequestResultFrame,
]);
export type TurnFrame = z.infer<typeof TurnFrame>;
export type HostFrame = z.infer<typeof HostFrame>;

// runtime → host
/** The start self-test's facts, seen from inside the sandbox; the host judges them (src/sandbox/start-check.ts). */
export const StartReport = z.object({
  facts: z.record(z.string(), z.string()),
  /** variable name → sha256 of its value (first 32 hex digits) */
  env: z.record(z.string(), z.string()),
});
export type StartReport = z.infer<typeof StartReport>;
export const ReadyFrame = z.object({
  type: z.literal('ready'),
  protocol: z.literal(PROTOCOL_VERSION),
  gatewayPort: z.int().check(z.positive()),
  /** absent only from runtimes that predate it; the host then refuses the sandbox */
  selfTest: z.optional(StartReport),
});
export const TextFrame = z.object({ type: z.literal('text'), turnId: z.string(), delta: z.string() });
export const ToolCallFrame = z.object({
  type: z.literal('tool_call'),
  turnId: z.string(),
  callId: z.string(),
  name: z.string(),
  input: z.record(z.string(), z.unknown()),
});
export const ToolResultFrame = z.object({
  type: z.literal('tool_result'),
  turnId: z.string(),
  callId: z.string(),
  output: z.string(),
  isError: z.boolean(),
  durationMs: z.number().check(z.nonnegative()),
});
export const UsageFrame = z.object({ type: z.literal('usage'), turnId: z.string(), usage: Usage });
export const StopReason = z.enum(['end', 'max_steps', 'cancelled']);
export const TurnEndFrame = z.object({
  type: z.literal('turn_end'),
  turnId: z.string(),
  stopReason: StopReason,
  text: z.string().check(z.describe('the final assistant text of the turn')),
  messages: z
    .array(ChatMessage)
    .check(z.describe('messages this turn added after the user message, for the transcript')),
});
export const CompactedFrame = z.object({
  type: z.literal('compacted'),
  turnId: z.string(),
  summary: z.string().check(z.describe('stands in for the turns the host asked to compact, from now on')),
});
export const TurnErrorCode = z.enum([
  'model_unreachable',
  'model_auth',
  'model_rate_limited',
  'model_error',
  'model_bad_response',
  'bad_request',
  'budget_exhausted',
  'internal',
]);
export type TurnErrorCode = z.infer<typeof TurnErrorCode>;
export const TurnErrorFrame = z.object({
  type: z.literal('turn_error'),
  turnId: z.string(),
  code: TurnErrorCode,
  message: z.string(),
});
export const RequestFrame = z.object({
  type: z.literal('request'),
  turnId: z.string(),
  requestId: z.string().check(z.minLength(1)),
  request: HostRequest,
});
/**
 * A piece of a file the runtime attaches to the request with the same id (send_file): the chunks come in
 * order before that request, so no frame exceeds MAX_FRAME_BYTES; the host caps and checks what it assembles.
 */
export const FileChunkFrame = z.object({
  type: z.literal('file_chunk'),
  turnId: z.string(),
  requestId: z.string().check(z.minLength(1)),
  seq: z.int().check(z.nonnegative()),
  /** base64 of at most FILE_CHUNK_BYTES bytes */
  data: z.base64().check(z.maxLength(Math.ceil(FILE_CHUNK_BYTES / 3) * 4)),
});
export const LogFrame = z.object({
  type: z.literal('log'),
  level: z.enum(['debug', 'info', 'warn', 'error']),
  msg: z.string(),
});
export const RuntimeFrame = z.discriminatedUnion('type', [
  ReadyFrame,
  TextFrame,
  ToolCallFrame,
  ToolResultFrame,
  UsageFrame,
  CompactedFrame,
  TurnEndFrame,
  TurnErrorFrame,
  RequestFrame,
  FileChunkFrame,
  LogFrame,
]);
export type RuntimeFrame = z.infer<typeof RuntimeFrame>;
export type TurnEndFrame = z.infer<typeof TurnEndFrame>;
export type TurnErrorFrame = z.infer<typeof TurnErrorFrame>;
export type RequestFrame = z.infer<typeof RequestFrame>;
export type RequestResultFrame = z.infer<typeof RequestResultFrame>;
export type FileChunkFrame = z.infer<typeof FileChunkFrame>;
