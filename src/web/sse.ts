// GET /v1/events: the daemon's live events as server-sent events. A client that reconnects with Last-Event-ID
// (or ?since=ID) gets what it missed while the host still keeps it; ?agent=NAME filters; ?once=1 ends the
// stream after what is kept (corral logs without -f).
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { EventBus, PublishedEvent } from '../host/daemon/events.ts';

/** A comment line this often keeps proxies and idle timeouts from closing a quiet stream. */
export const SSE_HEARTBEAT_MS = 15_000;

export function streamEvents(req: IncomingMessage, res: ServerResponse, events: EventBus, url: URL): void {
  const agent = url.searchParams.get('agent');
  const lastId = Number(req.headers['last-event-id'] ?? url.searchParams.get('since') ?? NaN);
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-store',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
  });
  res.write('retry: 2000\n\n');
  const send = (e: PublishedEvent): void => {
    if (agent !== null && 'agent' in e.event && e.event.agent !== agent) return;
    res.write(`id: ${e.id}\nevent: ${e.event.type}\ndata: ${JSON.stringify({ at: e.at, ...e.event })}\n\n`);
  };
  if (url.searchParams.get('once') === '1') {
    events.subscribe(send, Number.isInteger(lastId) ? lastId : 0)();
    return void res.end();
  }
  const unsubscribe = events.subscribe(send, Number.isInteger(lastId) ? lastId : undefined);
  const heartbeat = setInterval(() => res.write(': ping\n\n'), SSE_HEARTBEAT_MS);
  heartbeat.unref();
  const end = (): void => {
    clearInterval(heartbeat);
    unsubscribe();
  };
  req.on('close', end);
  res.on('error', end);
}
