// A one-shot check of a Slack channel's tokens for `corral doctor` and `corral channel add`: the bot token with
// auth.test, the app-level token with apps.connections.open (the socket URL it returns is not used).
import { webApi } from '@slack/bolt';
import { errorMessage } from '../../util/errors.ts';
import { silentLogger } from '../../util/log.ts';
import { slackClientOptions } from './bolt.ts';
import { slackErrorCode } from './deliver.ts';
import type { SlackTokens } from './tokens.ts';

export type SlackProbe =
  { ok: true; team: string; botUserId: string } | { ok: false; detail: string; fix: string };

export async function probeSlack(channel: string, tokens: SlackTokens, apiUrl?: string): Promise<SlackProbe> {
  const options = { ...slackClientOptions(apiUrl, silentLogger), retryConfig: { retries: 0 } };
  const again = `copy the token from your Slack app, then run: corral channel add slack ${channel} --replace`;
  const refused = (which: string, err: unknown): SlackProbe => {
    const code = slackErrorCode(err);
    return code === undefined
      ? { ok: false, detail: `Slack could not be reached: ${errorMessage(err)}`, fix: 'check the network' }
      : { ok: false, detail: `Slack refused the ${which} (${code})`, fix: again };
  };
  let bot: webApi.AuthTestResponse;
  try {
    bot = await new webApi.WebClient(tokens.botToken, options).auth.test();
  } catch (err) {
    return refused('bot token', err);
  }
  try {
    const app = new webApi.WebClient(undefined, {
      ...options,
      headers: { Authorization: `Bearer ${tokens.appToken}` },
    });
    await app.apps.connections.open();
  } catch (err) {
    return refused('app-level token (is Socket Mode on for the app?)', err);
  }
  return { ok: true, team: bot.team ?? bot.team_id ?? '?', botUserId: bot.user_id ?? '?' };
}
