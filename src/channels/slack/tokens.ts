// Slack's two credentials for Socket Mode: the app-level token (xapp-, opens the socket) and the bot token
// (xoxb-, posts replies), read once at `corral channel add slack`. No message here ever contains a token.
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

/** Two tokens separated by spaces or newlines, in either order (told apart by their prefixes). */
export function parseSlackTokens(text: string): SlackTokens {
  const words = text.split(/\s+/).filter((w) => w !== '');
  const app = words.filter((w) => w.startsWith('xapp-'));
  const bot = words.filter((w) => w.startsWith('xoxb-'));
  if (words.length !== 2 || app.length !== 1 || bot.length !== 1)
    throw new CorralError(
      'slack_tokens_invalid',
      `expected two tokens, the app-level token (xapp-…) and the bot token (xoxb-…); got ${words.length} word(s), ` +
        `${app.length} app and ${bot.length} bot token(s)`,
      HOW,
    );
  return checked({ appToken: app[0], botToken: bot[0] });
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
