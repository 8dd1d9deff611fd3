// `corral channel rm` of a Telegram channel in webhook mode while no host runs: tells Telegram to stop posting to
// the webhook (a running host does this itself when it sees the channel go). Best effort, bounded in time.
import { Api } from 'grammy';
import { errorMessage } from '../../util/errors.ts';
import type { CliContext } from '../context.ts';

const DELETE_WEBHOOK_TIMEOUT_MS = 10_000;

export async function forgetTelegramWebhook(
  ctx: CliContext,
  token: string,
  apiRoot: string | undefined,
): Promise<void> {
  const api = new Api(token, {
    ...(apiRoot === undefined ? {} : { apiRoot }),
    timeoutSeconds: DELETE_WEBHOOK_TIMEOUT_MS / 1000,
  });
  try {
    await api.deleteWebhook();
    ctx.err('Telegram webhook deleted\n');
  } catch (err) {
    ctx.err(
      `note: the Telegram webhook was not deleted (${errorMessage(err)}); Telegram keeps posting to it until ` +
        'you add the bot again or call deleteWebhook\n',
    );
  }
}
