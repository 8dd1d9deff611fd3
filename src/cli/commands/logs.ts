// corral logs [-f] [AGENT]: what the running host does (runs, tool calls, replies, tasks), read from its
// /v1/events stream; --json prints the events as they come.
import type { Command } from 'commander';
import { readDaemonInfo } from '../../host/daemon/pidfile.ts';
import { CorralError, errorMessage } from '../../util/errors.ts';
import { readApiToken } from '../../web/token.ts';
import type { CliContext } from '../context.ts';

const PREVIEW = 120;

/** Splits an SSE byte stream into events; calls `onEvent` with each event's data. */
export async function readSse(
  body: ReadableStream<Uint8Array>,
  onData: (data: string) => void,
): Promise<void> {
  const decoder = new TextDecoder();
  let buffer = '';
  for await (const chunk of body) {
    buffer += decoder.decode(chunk, { stream: true });
    let end;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const data = block
        .split('\n')
        .filter((l) => l.startsWith('data: '))
        .map((l) => l.slice(6))
        .join('\n');
      if (data !== '') onData(data);
    }
  }
}

/** One line per event: time, agent, type, and what matters about it. */
export function formatEvent(data: string): string {
  const e: unknown = JSON.parse(data);
  if (typeof e !== 'object' || e === null) return data;
  const get = (k: string): string => {
    const v: unknown = Reflect.get(e, k);
    return v === undefined || v === null ? '' : typeof v === 'string' ? v : JSON.stringify(v);
  };
  const detail =
    {
      'tool.call': `${get('name')} ${get('input')}`,
      'tool.result': `${get('isError') === 'true' ? 'error' : 'ok'} ${get('durationMs')} ms`,
      'run.done': `${get('stopReason')} in ${get('ms')} ms`,
      'run.failed': get('error'),
      reply: get('text').replace(/\s+/g, ' '),
      'agent.invalid': get('error'),
      'task.skipped': `${get('taskId')} ${get('reason')}`,
      'task.fired': get('taskId'),
      'message.accepted': `${get('kind')} thread ${get('thread')}`,
    }[get('type')] ?? '';
  const time = get('at').slice(11, 19);
  return `${time} ${get('agent').padEnd(14)} ${get('type').padEnd(16)} ${detail.slice(0, PREVIEW)}`.trimEnd();
}

export function registerLogs(program: Command, ctx: CliContext): void {
  program
    .command('logs [agent]')
    .description('show what the running host did recently (runs, tool calls, replies); -f follows')
    .option('-f, --follow', 'keep printing new events')
    .option('--url <url>', 'the host’s API (default: the one `corral up` recorded)')
    .option('--json', 'print events as JSON lines')
    .action(async (agent: string | undefined, opts: { follow?: boolean; url?: string; json?: boolean }) => {
      const url = opts.url ?? readDaemonInfo(ctx.home)?.url;
      if (url === undefined || url === '')
        throw new CorralError(
          'daemon_not_running',
          `corral up is not running for ${ctx.home.root}`,
          'start it: corral up',
        );
      const token = readApiToken(ctx.home);
      if (token === undefined)
        throw new CorralError('token_missing', 'no API token in this home', 'run: corral init');
      const q = new URLSearchParams({
        since: '0',
        ...(agent ? { agent } : {}),
        ...(opts.follow ? {} : { once: '1' }),
      });
      let res: Response;
      try {
        res = await fetch(`${url}/v1/events?${q.toString()}`, {
          headers: { authorization: `Bearer ${token}` },
        });
      } catch (err) {
        throw new CorralError(
          'daemon_unreachable',
          `cannot reach ${url}: ${errorMessage(err)}`,
          'is corral up running?',
        );
      }
      if (!res.ok || res.body === null)
        throw new CorralError('daemon_error', `${url} answered ${res.status}: ${await res.text()}`);
      await readSse(res.body, (data) => ctx.out((opts.json ? data : formatEvent(data)) + '\n'));
    });
}
