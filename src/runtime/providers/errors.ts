// Maps what an SDK threw to a ModelError with a turn_error code and a one-line message. Each provider tells us
// the facts its own error classes know (HTTP status, connection failure); the mapping is shared.
import {
  GATEWAY_BUDGET_EXHAUSTED,
  GATEWAY_ERROR_HEADER,
  GATEWAY_UNREACHABLE,
} from '../../protocol/sandbox-env.ts';
import { ModelError } from './types.ts';

/** The gateway's own error type, from the SDK error's response headers (a Headers object or a plain record). */
function gatewayErrorOf(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null || !('headers' in err)) return undefined;
  const h: unknown = err.headers;
  if (h instanceof Headers) return h.get(GATEWAY_ERROR_HEADER) ?? undefined;
  if (typeof h === 'object' && h !== null && GATEWAY_ERROR_HEADER in h) {
    const v: unknown = Object.getOwnPropertyDescriptor(h, GATEWAY_ERROR_HEADER)?.value;
    return typeof v === 'string' ? v : undefined;
  }
  return undefined;
}

const MAX_MESSAGE_CHARS = 300;

/** `message`, or `error.message` (the SDKs keep Anthropic's whole error body, OpenAI's `error` object). */
function messageIn(value: unknown, depth = 0): string | undefined {
  if (typeof value !== 'object' || value === null || depth > 1) return undefined;
  if ('message' in value && typeof value.message === 'string') return value.message;
  return 'error' in value ? messageIn(value.error, depth + 1) : undefined;
}

const bodyMessageOf = (err: unknown): string | undefined =>
  typeof err === 'object' && err !== null && 'error' in err ? messageIn(err.error) : undefined;

const oneLine = (text: string): string => text.replace(/\s+/g, ' ').trim().slice(0, MAX_MESSAGE_CHARS);

export function toModelError(
  err: unknown,
  facts: { provider: string; status: number | undefined; connection: boolean; apiError: boolean },
): ModelError {
  if (err instanceof ModelError) return err;
  const detail = oneLine(err instanceof Error ? err.message : String(err));
  const { provider, status } = facts;
  const say = (code: ModelError['code'], what: string): ModelError =>
    new ModelError(code, `${provider}: ${what}: ${detail}`, { cause: err });
  // The gateway's own refusal: its message already says what to do, so it is passed on as it is.
  if (gatewayErrorOf(err) === GATEWAY_BUDGET_EXHAUSTED)
    return new ModelError('budget_exhausted', oneLine(bodyMessageOf(err) ?? detail), { cause: err });
  // The gateway answers 502 itself when the provider never answered: that is 'unreachable', not a 5xx.
  if (gatewayErrorOf(err) === GATEWAY_UNREACHABLE)
    return say('model_unreachable', 'the gateway could not reach the model API');
  if (status === 401 || status === 403)
    return say('model_auth', `model API refused the credentials (HTTP ${status})`);
  if (status === 429) return say('model_rate_limited', `model API rate limit hit (HTTP 429)`);
  if (status !== undefined) return say('model_error', `model API failed (HTTP ${status})`);
  if (facts.connection) return say('model_unreachable', 'could not reach the model API through the gateway');
  // An API error without status is an `error` event inside an otherwise good stream (e.g. overloaded).
  if (facts.apiError) return say('model_error', 'model API reported an error mid-stream');
  return say('model_bad_response', 'model API sent a malformed or incomplete response');
}
