// Delivers one outbox item to Slack: the text in pieces of at most SLACK_TEXT_LIMIT characters, then the files,
// all in the item's thread. A retried item resumes after the pieces already posted, so nobody reads one twice.
import { webApi } from '@slack/bolt';
import type { OutboxRow } from '../../store/daemon-types.ts';
import type { DeliveryJournal } from '../delivery-journal.ts';
import { memoryJournal, sendParts } from '../delivery-journal.ts';
import { parseChatDelivery, PermanentDeliveryError, splitText } from '../types.ts';

/** Slack shows up to 4,000 characters of a message's text well (it refuses past 40,000); we split there. */
export const SLACK_TEXT_LIMIT = 4_000;

/** Answers that will not change on a retry: the item can never be delivered. */
const PERMANENT = new Set([
  'channel_not_found',
  'not_in_channel',
  'is_archived',
  'msg_too_long',
  'no_text',
  'invalid_arguments',
  'restricted_action',
  'thread_not_found',
  'invalid_thread_ts',
]);

/** Answers that mean the token no longer works: the operator must act; the outbox keeps the item. */
export const AUTH_ERRORS = new Set([
  'invalid_auth',
  'not_authed',
  'token_revoked',
  'token_expired',
  'account_inactive',
  'team_disabled',
  'missing_scope',
]);

/** The `error` field of a Slack Web API refusal, if `err` is one. */
export function slackErrorCode(err: unknown): string | undefined {
  if (!(err instanceof Error) || !('code' in err) || err.code !== webApi.ErrorCode.PlatformError)
    return undefined;
  if (!('data' in err) || typeof err.data !== 'object' || err.data === null || !('error' in err.data))
    return undefined;
  return typeof err.data.error === 'string' ? err.data.error : undefined;
}

export interface DeliverDeps {
  client: webApi.WebClient;
  /** pieces already posted per outbox key (kept across retries of the same item) */
  progress: Map<string, number>;
  /** called with "chat/thread" after each post, so later messages in that thread count as replies to the bot */
  posted: (threadKey: string) => void;
  /** called when Slack refuses the token */
  authFailed: (code: string) => void;
}

export async function deliverToSlack(
  deps: DeliverDeps,
  item: OutboxRow,
  signal: AbortSignal,
  journal: DeliveryJournal = memoryJournal(deps.progress, item.key),
): Promise<void> {
  const d = parseChatDelivery(item);
  const chunks = d.text.trim() === '' ? [] : splitText(d.text, SLACK_TEXT_LIMIT);
  const thread = d.to.thread;
  const steps = Array.from({ length: chunks.length + d.files.length }, (_, i) => async () => {
    const chunk = chunks[i];
    const file = d.files[i - chunks.length];
    if (chunk !== undefined) {
      await deps.client.chat.postMessage({
        channel: d.to.chat,
        text: chunk,
        ...(thread === undefined ? {} : { thread_ts: thread }),
      });
    } else if (file !== undefined) {
      const upload = {
        file: Buffer.from(file.content, 'base64'),
        filename: file.name,
        ...(file.caption === undefined ? {} : { initial_comment: file.caption }),
      };
      await deps.client.filesUploadV2(
        thread === undefined
          ? { ...upload, channel_id: d.to.chat }
          : { ...upload, channel_id: d.to.chat, thread_ts: thread },
      );
    }
    if (thread !== undefined) deps.posted(`${d.to.chat}/${thread}`);
  });
  try {
    // chat.postMessage has no idempotency key: a part in doubt after a crash goes out again (delivery-journal.ts)
    await sendParts(steps, journal, signal);
    deps.progress.delete(item.key);
  } catch (err) {
    const code = slackErrorCode(err);
    if (code !== undefined && PERMANENT.has(code)) {
      deps.progress.delete(item.key);
      throw new PermanentDeliveryError(`slack refused the reply to ${d.to.chat}: ${code}`);
    }
    if (code !== undefined && AUTH_ERRORS.has(code)) deps.authFailed(code);
    throw err;
  }
}
