// The parts of the Store the daemon adds: the durable inbound queue, the outbox and scheduled tasks.
import type { ChatMessage } from '../protocol/transcript.ts';
import type { MessageRow, MessageStatus, SessionRow } from './types.ts';

/** Who a message comes from: a person through a channel, a scheduled task, or another agent. */
export type MessageKind = 'user' | 'task' | 'agent';

/**
 * Where a reply goes besides the conversation itself (read with GET): a callback URL given to the API, or the
 * chat of a channel adapter (`name` is the configured channel, e.g. a Telegram bot) the message came from.
 */
export type ReplyTarget =
  | { channel: 'webhook'; url: string }
  /** an agent's message to another agent: the reply goes back to the sender's session */
  | { channel: 'agent'; agent: string; sessionKey: string }
  | { channel: 'chat'; name: string; chat: string; thread?: string; replyTo?: string };

/** An inbound message as the queue sees it: the message row plus its session and delivery state. */
export interface InboundRow {
  id: string;
  agent: string;
  sessionId: string;
  sessionKey: string;
  kind: MessageKind;
  /** e.g. 'api', 'cli', 'task:<id>', 'agent:<name>' */
  source: string | null;
  text: string;
  status: MessageStatus;
  error: string | null;
  /** turns started for it, across restarts */
  attempts: number;
  /** its place in the daemon's queue; null for messages run directly (corral run, corral chat) */
  queueSeq: number | null;
  replyTo: ReplyTarget | null;
  /** agent-to-agent hops that led to this message (0: from a person or a task) */
  hops: number;
  /** the assistant message that answered it */
  replyId: string | null;
  reply: string | null;
  createdAt: string;
  updatedAt: string | null;
}

/** One delivery the outbox must make; the key makes it idempotent (inserted once, sent under that key). */
export interface OutboxInsert {
  key: string;
  messageId: string;
  channel: string;
  target: string;
  payload: Record<string, unknown>;
}

/** A file an agent sent with a reply (send_file), stored with the message it answers until that is deleted. */
export interface FileMeta {
  id: string;
  /** safe base name (src/host/outgoing-files.ts) */
  name: string;
  mime: string;
  size: number;
  /** hex sha256 of the content */
  sha256: string;
  caption: string | null;
}
export interface FileInsert extends FileMeta {
  content: Buffer;
}

export type OutboxStatus = 'pending' | 'delivered' | 'failed';

export interface OutboxRow extends OutboxInsert {
  status: OutboxStatus;
  attempts: number;
  nextAttemptAt: string;
  lastError: string | null;
  createdAt: string;
  deliveredAt: string | null;
}

/** The state of a delivery not yet tried, as the outbox stores it at `at` (a row handed straight to a channel too). */
export function unsentDelivery(at: string): Omit<OutboxRow, keyof OutboxInsert> {
  return {
    status: 'pending',
    attempts: 0,
    nextAttemptAt: at,
    lastError: null,
    createdAt: at,
    deliveredAt: null,
  };
}

export type ScheduleKind = 'cron' | 'every' | 'at';
/** What happens to a run that fell due while the host was down: run once on start, or skip it. */
export type MissedPolicy = 'run_once' | 'skip';

/** Where a task is defined: added at run time (CLI, API, schedule_task) or declared in the agent's file. */
export type TaskSource = 'added' | 'file';

export interface TaskInsert {
  agent: string;
  prompt: string;
  kind: ScheduleKind;
  /** a cron expression, an interval in milliseconds, or an ISO-8601 instant */
  schedule: string;
  tz: string | null;
  missed: MissedPolicy;
  nextRunAt: string | null;
  /** 'operator' or 'agent:<name>' */
  createdBy: string;
  /** default 'added' */
  source?: TaskSource;
  /** a declared task's name in the file's `schedules:` (its identity there); null for added tasks */
  name?: string | null;
  paused?: boolean;
}

/** What reconciling a declared task may change. */
export type TaskUpdate = Pick<
  TaskRow,
  'prompt' | 'kind' | 'schedule' | 'tz' | 'missed' | 'paused' | 'nextRunAt'
>;

export interface TaskRow extends TaskInsert {
  id: string;
  source: TaskSource;
  name: string | null;
  paused: boolean;
  lastRunAt: string | null;
  lastMessageId: string | null;
  createdAt: string;
}

export interface QueueStore {
  /**
   * Commits an inbound message (creating its session on first use) before anyone acknowledges it. `queued`
   * gives it a place in the daemon's queue; direct runs (corral run) leave it out.
   */
  acceptMessage(m: {
    agent: string;
    sessionKey: string;
    kind: MessageKind;
    source: string | null;
    text: string;
    replyTo?: ReplyTarget | null;
    hops?: number;
    queued: boolean;
    /**
     * The platform's identity of this message (channel, chat, platform message id): a second message with the
     * same key in the same session is the platform delivering it again, and is not committed twice.
     */
    platformKey?: string;
  }): InboundRow;
  /** acceptMessage, telling whether the message was there already (same platform key, same session). */
  acceptMessageOnce(m: Parameters<QueueStore['acceptMessage']>[0] & { platformKey: string }): {
    row: InboundRow;
    duplicate: boolean;
  };
  getInbound(id: string): InboundRow | undefined;
  /** Messages waiting in the daemon's queue (received, with a queue place), oldest first. */
  queuedMessages(): InboundRow[];
  /** received → running, counting the attempt. */
  startMessage(id: string): InboundRow;
  /** running → received without counting the attempt (the host was asked to stop; it runs again later). */
  requeueMessage(id: string): void;
  /**
   * The end of a turn, all at once: transcript, the reply, the message done, the run finished and the outbox
   * items. A crash before it leaves the message running (so it runs again); after it, everything is there.
   */
  completeMessage(c: {
    messageId: string;
    runId: string;
    transcript: ChatMessage[];
    reply: string;
    stopReason: string;
    cancelled: boolean;
    outbox: OutboxInsert[];
    /** files the agent sent with the reply; committed with it, so its deliveries can always read them */
    files?: FileInsert[];
  }): MessageRow;
  /** The files sent with the reply to inbound message `messageId`, in the order they were sent. */
  listMessageFiles(messageId: string): FileMeta[];
  /** One of those files with its content. */
  getMessageFile(messageId: string, fileId: string): FileInsert | undefined;
  /** Every file sent in a session, with the message it answers and that message's reply (to show them there). */
  listSessionFiles(sessionId: string): (FileMeta & { messageId: string; replyId: string | null })[];
  failMessage(f: { messageId: string; runId: string | null; error: string; outbox: OutboxInsert[] }): void;
  /**
   * After a crash: queued messages that were running go back to the queue, or fail with `reason` once they
   * used `maxAttempts`; their runs are closed as failed. Returns both sets.
   */
  recoverUnfinished(opts: {
    maxAttempts: number;
    reason: string;
    outboxFor: (row: InboundRow, error: string) => OutboxInsert[];
  }): { requeued: InboundRow[]; failed: InboundRow[] };
  findSession(agent: string, key: string): SessionRow | undefined;
  /** Records that `summary` stands in for the session's first `covers` transcript entries. */
  saveCompaction(sessionId: string, covers: number, summary: string): void;
  /** The session's latest compaction, if any. */
  latestCompaction(sessionId: string): { covers: number; summary: string } | undefined;
}

export interface OutboxStore {
  /** Pending deliveries due at `now` (ISO), oldest first. */
  dueOutbox(now: string, limit: number): OutboxRow[];
  /** The earliest next attempt of any pending delivery. */
  nextOutboxDue(): string | undefined;
  outboxDelivered(key: string): void;
  /** Recorded before part `part` (0-based) of a delivery is sent: until outboxPartSent, that part is in doubt. */
  outboxSending(key: string, part: number): void;
  /** The receiver confirmed part `part`: it is never sent again. */
  outboxPartSent(key: string, part: number): void;
  /** How far a delivery got: parts confirmed, and the part whose sending was recorded but not confirmed. */
  outboxJournal(key: string): { partsDone: number; sendingPart: number | null };
  outboxRetry(key: string, r: { error: string; nextAttemptAt: string; giveUp: boolean }): void;
  getOutbox(key: string): OutboxRow | undefined;
  listOutbox(messageId: string): OutboxRow[];
}

export interface TaskStore {
  createTask(t: TaskInsert): TaskRow;
  getTask(id: string): TaskRow | undefined;
  listTasks(agent?: string): TaskRow[];
  deleteTask(id: string): boolean;
  setTaskPaused(id: string, paused: boolean, nextRunAt: string | null): TaskRow;
  updateTask(id: string, u: TaskUpdate): TaskRow;
  setTaskNextRun(id: string, nextRunAt: string | null): void;
  recordTaskRun(id: string, r: { lastRunAt: string; lastMessageId: string; nextRunAt: string | null }): void;
  /** Active tasks due at `now` (ISO), earliest first. */
  dueTasks(now: string): TaskRow[];
  /** The earliest next run of any active task. */
  nextTaskDue(): string | undefined;
}
