// Reading the Slack tokens: either order, clear refusals that never repeat a token.
import { describe, expect, it } from 'vitest';
import { CorralError } from '../../util/errors.ts';
import { parseSlackTokens } from './tokens.ts';

const app = 'xapp-1-A0TEST-1-abcdef123456';
const bot = 'xoxb-1111-2222-abcdefABCDEF';

function refusal(fn: () => unknown): CorralError {
  try {
    fn();
  } catch (err) {
    if (err instanceof CorralError) return err;
    throw err;
  }
  throw new Error('expected a refusal');
}

describe('slack tokens', () => {
  it('reads both tokens in either order, on two lines or one', () => {
    expect(parseSlackTokens(`${app}\n${bot}\n`)).toEqual({ appToken: app, botToken: bot });
    expect(parseSlackTokens(`\n${bot}\r\n\n${app}`)).toEqual({ appToken: app, botToken: bot });
    expect(parseSlackTokens(` ${bot}  ${app} `)).toEqual({ appToken: app, botToken: bot });
  });

  it('refuses one token, two of a kind, a user token or junk, without repeating any of it', () => {
    for (const input of [
      app,
      `${app}\n${app}`,
      `xoxp-1-user-token-abc\n${app}`,
      `${app}\n${bot}\n${bot}`,
      'hunter2',
    ]) {
      const err = refusal(() => parseSlackTokens(input));
      expect(err.code).toBe('slack_tokens_invalid');
      expect(`${err.message} ${err.hint ?? ''}`).not.toMatch(/abcdef|hunter2|user-token/);
    }
    const bad = refusal(() => parseSlackTokens(`xapp-\n${bot}`));
    expect(bad.message).toContain('xapp-');
  });
});
