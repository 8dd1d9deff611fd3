// Slack's two credentials for Socket Mode: the app-level token (xapp-, opens the socket) and the bot token
// (xoxb-, posts replies). Read once at `corral channel add slack`, sealed together as one store secret; no
// message here ever contains a token.
import { z } from 'zod';
import { CorralError } from '../../util/errors.ts';

export const SlackTokens = z
  .object({
    appToken: z.string().regex(/^xapp-[A-Za-z0-9-]{8,}$/, 'an app-level token starts with xapp-'),
    botToken: z.string().regex(/^xoxb-[A-Za-z0-9-]{8,}$/, 'a bot token starts with xoxb-'),
  })
  .strict();
export type SlackTokens = z.infer<typeof SlackTokens>;

const HOW = 'printf "%s\\n%s\\n" "$SLACK_APP_TOKEN" "$SLACK_BOT_TOKEN" | corral channel add slack NAME';

/** Two tokens, one per line, in either order (told apart by their prefixes); blank lines are ignored. */
export function parseTokenLines(text: string): SlackTokens {
  const lines = text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '');
  const app = lines.filter((l) => l.startsWith('xapp-'));
  const bot = lines.filter((l) => l.startsWith('xoxb-'));
  if (lines.length !== 2 || app.length !== 1 || bot.length !== 1)
    throw new CorralError(
      'slack_tokens_invalid',
      `expected two lines, the app-level token (xapp-…) and the bot token (xoxb-…); got ${lines.length} line(s), ` +
        `${app.length} app and ${bot.length} bot token(s)`,
      HOW,
    );
  return checked({ appToken: app[0], botToken: bot[0] });
}

/** The sealed form, as stored under the channel's secret name. */
export function sealTokens(t: SlackTokens): string {
  return JSON.stringify(SlackTokens.parse(t));
}

/** Reads the sealed form back; a damaged or foreign value is an error that says how to store it again. */
export function openTokens(value: string, channel: string): SlackTokens {
  let raw: unknown;
  try {
    raw = JSON.parse(value);
  } catch {
    raw = undefined;
  }
  const r = SlackTokens.safeParse(raw);
  if (!r.success)
    throw new CorralError(
      'slack_tokens_invalid',
      `the stored tokens of Slack channel ${channel} are not readable`,
      `enter them again: corral channel add slack ${channel}`,
    );
  return r.data;
}

function checked(t: { appToken?: string; botToken?: string }): SlackTokens {
  const r = SlackTokens.safeParse(t);
  if (!r.success)
    throw new CorralError(
      'slack_tokens_invalid',
      `not a Slack token: ${r.error.issues.map((i) => i.message).join('; ')}`,
      'copy the tokens from your Slack app: Basic Information → App-Level Tokens, OAuth & Permissions → Bot Token',
    );
  return r.data;
}
