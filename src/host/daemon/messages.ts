// The daemon's message operations as channels see them: accept (commit, then queue), look one up, read a
// conversation. Sessions are per (agent, channel, thread): the session key is `channel:thread`.
import type { FileInsert, FileMeta, InboundRow, MessageKind, ReplyTarget } from '../../store/daemon-types.ts';
import type { Store } from '../../store/types.ts';
import { CorralError } from '../../util/errors.ts';
import type { QueuePosition, Router } from '../queue/router.ts';
import type { AgentCatalog } from './agent-catalog.ts';
import type { EventBus } from './events.ts';
import { threadOf } from './turns.ts';

export type PublicStatus = 'queued' | 'running' | 'done' | 'failed';

export interface MessageView {
  id: string;
  agent: string;
  channel: string;
  thread: string;
  kind: MessageKind;
  status: PublicStatus;
  text: string;
  reply: string | null;
  error: string | null;
  attempts: number;
  createdAt: string;
  updatedAt: string | null;
  /** while queued: its place in its session, and how many sessions wait for a sandbox before it */
  queue?: QueuePosition;
  /** accept() found it committed already under the same platform key: a redelivery, not run again */
  duplicate?: true;
  /** files the agent sent with the reply (send_file); each downloads from `url` */
  files?: FileView[];
}

/** A file sent with a reply, as the API lists it: its content is at `url` (GET, same auth as the API). */
export interface FileView {
  id: string;
  /** the message whose reply carried it */
  messageId: string;
  name: string;
  mime: string;
  size: number;
  sha256: string;
  caption: string | null;
  url: string;
}

export interface ConversationEntry {
  id: string;
  role: 'user' | 'assistant';
  text: string;
  status: PublicStatus;
  error: string | null;
  createdAt: string;
  /** on a reply: the files the agent sent with it */
  files?: FileView[];
}

const publicStatus = (s: InboundRow['status']): PublicStatus => (s === 'received' ? 'queued' : s);
export const fileUrl = (messageId: string, fileId: string): string =>
  `/v1/messages/${messageId}/files/${fileId}`;
const fileView = (messageId: string, f: FileMeta): FileView => ({
  ...f,
  messageId,
  url: fileUrl(messageId, f.id),
});

export const sessionKey = (channel: string, thread: string): string => `${channel}:${thread}`;

export function createMessageService(deps: {
  store: Store;
  router: Router;
  catalog: AgentCatalog;
  events: EventBus;
  draining: () => boolean;
  onAccepted?: (m: InboundRow) => void;
}) {
  const { store, router } = deps;
  const view = (m: InboundRow): MessageView => {
    const queue = m.status === 'received' ? router.position(m.id) : undefined;
    return {
      id: m.id,
      agent: m.agent,
      channel: m.sessionKey.slice(0, m.sessionKey.indexOf(':')),
      thread: threadOf(m.sessionKey),
      kind: m.kind,
      status: publicStatus(m.status),
      text: m.text,
      reply: m.reply,
      error: m.error,
      attempts: m.attempts,
      createdAt: m.createdAt,
      updatedAt: m.updatedAt,
      ...(queue ? { queue } : {}),
      files: store.listMessageFiles(m.id).map((f) => fileView(m.id, f)),
    };
  };
  const mustKnow = (agent: string): void => {
    const found = deps.catalog.get(agent);
    if (found instanceof CorralError) throw found;
  };

  return {
    /** Commits the message, then queues it; the caller acknowledges only after this returned. */
    accept(m: {
      agent: string;
      channel: string;
      thread: string;
      text: string;
      kind?: MessageKind;
      source?: string;
      replyTo?: ReplyTarget | null;
      hops?: number;
      /** the platform's identity of the message: a redelivery with the same key is answered, not queued again */
      platformKey?: string;
    }): MessageView {
      if (deps.draining())
        throw new CorralError(
          'draining',
          'the host is stopping and takes no new messages',
          'try again shortly',
        );
      mustKnow(m.agent);
      const fields = {
        agent: m.agent,
        sessionKey: sessionKey(m.channel, m.thread),
        kind: m.kind ?? 'user',
        source: m.source ?? m.channel,
        text: m.text,
        replyTo: m.replyTo ?? null,
        hops: m.hops ?? 0,
        queued: true,
      } as const;
      let row: InboundRow;
      if (m.platformKey === undefined) row = store.acceptMessage(fields);
      else {
        const once = store.acceptMessageOnce({ ...fields, platformKey: m.platformKey });
        if (once.duplicate) return { ...view(once.row), duplicate: true };
        row = once.row;
      }
      store.appendAudit({
        actor: m.kind === 'agent' || m.kind === 'task' ? (m.source ?? m.kind) : `channel:${m.channel}`,
        action: 'message.received',
        subject: m.agent,
        detail: { messageId: row.id, session: row.sessionKey, kind: row.kind },
      });
      deps.events.publish({
        type: 'message.accepted',
        agent: m.agent,
        messageId: row.id,
        thread: m.thread,
        kind: row.kind,
      });
      deps.onAccepted?.(row);
      router.enqueue(row);
      return view(row);
    },
    get(id: string): MessageView | undefined {
      const row = store.getInbound(id);
      return row === undefined ? undefined : view(row);
    },
    conversation(agent: string, channel: string, thread: string): ConversationEntry[] {
      mustKnow(agent);
      const session = store.findSession(agent, sessionKey(channel, thread));
      if (session === undefined) return [];
      const files = new Map<string, FileView[]>(); // by the reply they came with
      for (const f of store.listSessionFiles(session.id)) {
        if (f.replyId === null) continue;
        const { messageId, replyId, ...meta } = f;
        files.set(replyId, [...(files.get(replyId) ?? []), fileView(messageId, meta)]);
      }
      return store.listMessages(session.id).map((m) => ({
        id: m.id,
        role: m.role,
        text: m.text,
        status: publicStatus(m.status),
        error: m.error,
        createdAt: m.createdAt,
        ...(files.has(m.id) ? { files: files.get(m.id) } : {}),
      }));
    },
    /** A file sent with the reply to message `messageId`, with its content. */
    file(messageId: string, fileId: string): FileInsert | undefined {
      return store.getMessageFile(messageId, fileId);
    },
  };
}

export type MessageService = ReturnType<typeof createMessageService>;
