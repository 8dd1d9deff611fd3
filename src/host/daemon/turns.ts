// One queued message's turn on a leased sandbox, as the router runs it: start it in the store, run it, publish
// what happens, and commit its end (reply and deliveries) in one step. Never throws: the router goes on.
import type { AgentConfig } from '../../config/schema.ts';
import type { FileMeta, InboundRow, OutboxInsert } from '../../store/daemon-types.ts';
import type { Store } from '../../store/types.ts';
import type { Clock } from '../../util/clock.ts';
import { errorMessage } from '../../util/errors.ts';
import type { Logger } from '../../util/log.ts';
import type { Lease } from '../pool/sandbox-pool.ts';
import type { TurnOutcome } from '../queue/router.ts';
import type { TurnExecDeps } from '../turn-exec.ts';
import { executeTurn } from '../turn-exec.ts';
import type { RequestHandler } from '../turn.ts';
import { agentReplyDelivery } from './agent-messages.ts';
import type { EventBus } from './events.ts';

const TOOL_INPUT_PREVIEW = 200;
const TOOL_OUTPUT_PREVIEW = 4_000;

/** Where a message's reply or failure must be delivered besides the conversation: its webhook or chat. */
export function deliveriesFor(
  m: InboundRow,
  body: { status: 'done'; reply: string } | { status: 'failed'; error: string },
  files: FileMeta[] = [],
): OutboxInsert[] {
  // files go by reference ({id, name, …}); the outbox reads their content from the store when it delivers
  const withFiles = files.length === 0 ? {} : { files };
  if (m.replyTo === null) return [];
  switch (m.replyTo.channel) {
    case 'chat': {
      const { name, chat, thread, replyTo } = m.replyTo;
      const to = {
        chat,
        ...(thread === undefined ? {} : { thread }),
        ...(replyTo === undefined ? {} : { replyTo }),
      };
      const text = body.status === 'done' ? body.reply : `Sorry, I could not answer that: ${body.error}`;
      // the payload is a ChatDelivery (src/channels/types.ts); the adapter named `name` delivers it
      return [
        {
          key: `reply:${m.id}`,
          messageId: m.id,
          channel: name,
          target: chat,
          payload: { to, text, status: body.status, ...withFiles },
        },
      ];
    }
    case 'agent':
      return [agentReplyDelivery(m, m.replyTo, body)];
    case 'webhook':
      return [
        {
          key: `reply:${m.id}`,
          messageId: m.id,
          channel: 'webhook',
          target: m.replyTo.url,
          payload: { id: m.id, agent: m.agent, session: m.sessionKey, ...body, ...withFiles },
        },
      ];
  }
}

export const threadOf = (sessionKey: string): string => sessionKey.slice(sessionKey.indexOf(':') + 1);

export function createTurnRunner(deps: {
  exec: TurnExecDeps;
  store: Store;
  clock: Clock;
  log: Logger;
  events: EventBus;
  /** after a commit that may have added deliveries */
  /** answers the agent's requests during the turn (schedule_task, send_message) */
  requests?: (agent: AgentConfig, message: InboundRow) => RequestHandler;
  onCommitted: (
    m: InboundRow,
    outcome: 'done' | 'failed',
    ms: { turn: number; sinceAccepted: number },
  ) => void;
}) {
  const { store, events, clock } = deps;
  return async (job: { message: InboundRow; agent: AgentConfig; lease: Lease; signal: AbortSignal }) => {
    const { agent, lease, signal } = job;
    let message: InboundRow;
    try {
      message = store.startMessage(job.message.id);
    } catch (err) {
      // e.g. the agent was removed with its messages while this one waited
      deps.log.warn('queued message cannot start', { message: job.message.id, err: errorMessage(err) });
      return 'failed' satisfies TurnOutcome;
    }
    const base = { agent: agent.name, messageId: message.id };
    events.publish({ type: 'run.started', ...base, attempt: message.attempts });
    const t0 = clock.now().getTime();
    const timings = () => ({
      turn: clock.now().getTime() - t0,
      sinceAccepted: clock.now().getTime() - Date.parse(message.createdAt),
    });
    let broken = false;
    try {
      const requests = deps.requests?.(agent, message);
      const result = await executeTurn(deps.exec, {
        ...(requests ? { requests } : {}),
        agent,
        message,
        sandbox: () => Promise.resolve(lease.sandbox),
        onSandboxBroken: () => {
          broken = true;
          return Promise.resolve();
        },
        signal,
        requeueOnCancel: true,
        onEvent: (e) => {
          if (e.type === 'tool_call')
            events.publish({
              type: 'tool.call',
              ...base,
              name: e.name,
              input: JSON.stringify(e.input).slice(0, TOOL_INPUT_PREVIEW),
            });
          else if (e.type === 'tool_result')
            events.publish({
              type: 'tool.result',
              ...base,
              isError: e.isError,
              durationMs: e.durationMs,
              output: e.output.slice(0, TOOL_OUTPUT_PREVIEW),
            });
          else if (e.type === 'text') events.publish({ type: 'run.text', ...base, delta: e.delta });
        },
        outbox: {
          reply: (text, files) => deliveriesFor(message, { status: 'done', reply: text }, files),
          failure: (error) => deliveriesFor(message, { status: 'failed', error }),
        },
      });
      if (result === undefined) {
        events.publish({ type: 'run.requeued', ...base });
        return broken ? 'broken' : 'requeued';
      }
      const ms = timings();
      for (const message of result.limits ?? []) events.publish({ type: 'limit.hit', ...base, message });
      events.publish({ type: 'run.done', ...base, stopReason: result.stopReason, ms: ms.turn });
      const files = result.files?.map((f) => ({ id: f.id, name: f.name, size: f.size }));
      events.publish({
        type: 'reply',
        ...base,
        thread: threadOf(message.sessionKey),
        text: result.text,
        ...(files === undefined ? {} : { files }),
      });
      deps.onCommitted(message, 'done', ms);
      return broken ? 'broken' : 'done';
    } catch (err) {
      events.publish({ type: 'run.failed', ...base, error: errorMessage(err) });
      deps.onCommitted(message, 'failed', timings());
      return broken ? 'broken' : 'failed';
    }
  };
}
