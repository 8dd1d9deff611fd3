// Builds the Bolt app for one Slack channel in Socket Mode. Two changes to Bolt's defaults: an event is acked
// only after our listener committed it (Bolt acks events before listeners run; corral persists before it
// acknowledges), and the Socket Mode client does not reconnect by itself (the adapter does, with backoff).
import { App, LogLevel, SocketModeReceiver } from '@slack/bolt';
import type { Logger as BoltLogger, ReceiverEvent, webApi } from '@slack/bolt';
import type { Logger } from '../../util/log.ts';

/** Slack's ping/pong window for the socket; a silent socket is closed after this. */
export const SLACK_PING_TIMEOUT_MS = 5_000;

export interface BoltOptions {
  appToken: string;
  botToken: string;
  botUserId: string;
  botId: string;
  /** the Web API root, e.g. a stand-in's; Slack's own when absent */
  apiUrl?: string;
  log: Logger;
}

/** Acknowledges an event only once every listener has settled without error; otherwise Slack redelivers it. */
class AckAfterListeners extends App {
  override async processEvent(event: ReceiverEvent): Promise<void> {
    const ack = event.ack;
    let acked = false;
    // Bolt calls this before the listeners (and alone when it refuses an event): remember, ack after
    await super.processEvent({
      ...event,
      ack: () => {
        acked = true;
        return Promise.resolve();
      },
    });
    if (acked) await ack();
  }
}

/** Options for every Web API client of a channel: the API root, our logger, and how calls are retried. */
export function slackClientOptions(apiUrl: string | undefined, log: Logger): webApi.WebClientOptions {
  return {
    ...(apiUrl === undefined ? {} : { slackApiUrl: apiUrl }),
    logger: boltLogger(log),
    // a 429 is waited out for its Retry-After and retried; other failures go back to the caller quickly
    retryConfig: { retries: 3, factor: 2, minTimeout: 500, maxTimeout: 5_000 },
  };
}

export function createBoltApp(opts: BoltOptions): { app: App; receiver: SocketModeReceiver } {
  const logger = boltLogger(opts.log);
  const clientOptions = slackClientOptions(opts.apiUrl, opts.log);
  const receiver = new SocketModeReceiver({
    appToken: opts.appToken,
    logger,
    autoReconnectEnabled: false,
    clientPingTimeout: SLACK_PING_TIMEOUT_MS,
    installerOptions: { clientOptions },
  });
  const app = new AckAfterListeners({
    token: opts.botToken,
    botId: opts.botId,
    botUserId: opts.botUserId,
    receiver,
    socketMode: true,
    tokenVerificationEnabled: false,
    ignoreSelf: true,
    logger,
    clientOptions,
  });
  // a listener failure is logged once here and rethrown, so the event stays unacked and comes again
  app.error(async (err) => {
    opts.log.warn('slack event not taken; Slack will deliver it again', { error: err.message });
    return Promise.reject(err);
  });
  return { app, receiver };
}

/** Bolt's logger interface onto ours; Bolt's debug and info chatter (which may echo payloads) is dropped. */
function boltLogger(log: Logger): BoltLogger {
  const text = (msg: unknown[]): string =>
    msg
      .map((m) => (m instanceof Error ? m.message : typeof m === 'string' ? m : JSON.stringify(m)))
      .join(' ');
  let level = LogLevel.WARN;
  return {
    debug: () => undefined,
    info: () => undefined,
    warn: (...msg: unknown[]) => log.warn(`slack: ${text(msg)}`),
    error: (...msg: unknown[]) => log.error(`slack: ${text(msg)}`),
    setLevel: (l) => {
      level = l;
    },
    getLevel: () => level,
    setName: () => undefined,
  };
}
