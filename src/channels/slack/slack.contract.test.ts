// The shared channel contract, run against the Slack adapter and the loopback Slack stand-in.
import { startSlackStandIn } from '../../../test/fixtures/slack-standin.ts';
import { channelContract } from '../channel.contract.ts';
import { createSlackChannel } from './adapter.ts';
import { SLACK_TEXT_LIMIT } from './deliver.ts';

channelContract('slack', async ({ name, log }) => {
  const slack = await startSlackStandIn();
  const adapter = createSlackChannel({
    name,
    appToken: slack.appToken,
    botToken: slack.botToken,
    apiUrl: slack.apiUrl,
    log,
    reconnectDelay: () => 50,
  });
  return {
    adapter,
    limit: SLACK_TEXT_LIMIT,
    chats: { bound: 'D0BOUND', unknown: 'D0STRANGER' },
    async inbound(m) {
      await slack.sendEvent({
        type: 'message',
        channel: m.chat,
        channel_type: 'im',
        user: `U${m.sender}`,
        text: m.text,
        ts: slack.nextTs(),
      });
    },
    async malformed() {
      await slack.sendEvent({
        type: 'message',
        channel: 'D0BOUND',
        channel_type: 'im',
        user: 7,
        text: ['x'],
      });
    },
    delivered: () => slack.posts.map((p) => ({ chat: p.channel, text: p.text })),
    rateLimitNext: (seconds) => slack.failNext('chat.postMessage', { status: 429, retryAfter: seconds }),
    deliveryCalls: () => slack.calls.filter((c) => c === 'chat.postMessage').length,
    down: () => slack.down(),
    up: () => slack.up(),
    close: () => slack.close(),
  };
});
