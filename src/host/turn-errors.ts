// What a user should do about each way a turn can fail.
import type { TurnErrorCode } from '../protocol/frames.ts';
import { CorralError } from '../util/errors.ts';

export function turnErrorToCorral(
  code: TurnErrorCode,
  message: string,
  ctx: { provider: string; baseUrl: string; keySecret: string; agent: string },
): CorralError {
  switch (code) {
    case 'budget_exhausted': {
      // The gateway's message ends in how to raise the budget: that part becomes the hint line.
      const [what, how] = message.split('; raise it with ');
      return new CorralError(
        code,
        what ?? message,
        `raise it with ${how ?? `corral agent set ${ctx.agent} --budget-usd N/day|N/month or --budget-tokens N/day`}`,
      );
    }
    case 'model_unreachable':
      return new CorralError(
        code,
        `cannot reach provider '${ctx.provider}' at ${ctx.baseUrl}: ${message}`,
        `check the URL (corral provider list) and that the server is running`,
      );
    case 'model_auth':
      return new CorralError(
        code,
        `provider '${ctx.provider}' rejected the key: ${message}`,
        `set a valid key: printf %s "$KEY" | corral secret set ${ctx.keySecret}`,
      );
    case 'model_rate_limited':
      return new CorralError(
        code,
        `provider '${ctx.provider}' is rate limiting: ${message}`,
        'wait a little and try again',
      );
    case 'model_error':
      return new CorralError(
        code,
        `provider '${ctx.provider}' failed: ${message}`,
        'try again later; the message is kept',
      );
    case 'model_bad_response':
      return new CorralError(
        code,
        `provider '${ctx.provider}' sent a response corral could not read: ${message}`,
        `check that '${ctx.provider}' speaks the protocol its kind says (corral provider list)`,
      );
    case 'bad_request':
      return new CorralError(
        code,
        `the model request was refused: ${message}`,
        'check the model name in the agent definition',
      );
    case 'internal':
      return new CorralError(code, `the agent runtime failed: ${message}`, 'run: corral doctor');
  }
}
