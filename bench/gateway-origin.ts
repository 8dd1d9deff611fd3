// The bench's local origin on loopback: a small answer, a small Anthropic-style answer with usage, and a 50 MB
// body streamed in 64 KiB chunks (raw for the proxy path, as server-sent events for the model route).
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export const BIG_BYTES = 50 * 1024 * 1024;
const CHUNK = 64 * 1024;

const SMALL = JSON.stringify({ ok: true, note: 'small answer from the bench origin' });
const MESSAGE = JSON.stringify({
  id: 'msg_bench',
  type: 'message',
  role: 'assistant',
  model: 'bench-model',
  content: [{ type: 'text', text: 'ok' }],
  stop_reason: 'end_turn',
  stop_sequence: null,
  usage: { input_tokens: 12, output_tokens: 2 },
});

function sseChunk(): Buffer {
  const event = (text: string): string =>
    `event: content_block_delta\ndata: ${JSON.stringify({ type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text } })}\n\n`;
  const one = event('x'.repeat(1000));
  return Buffer.from(one.repeat(Math.ceil(CHUNK / one.length)));
}

function streamBig(res: http.ServerResponse, chunk: Buffer, tail: string): void {
  let sent = 0;
  const pump = (): void => {
    while (sent < BIG_BYTES) {
      sent += chunk.length;
      if (!res.write(chunk)) return void res.once('drain', pump);
    }
    res.end(tail);
  };
  pump();
}

export async function startOrigin(): Promise<{ port: number; close(): Promise<void> }> {
  const raw = Buffer.alloc(CHUNK, 0x61);
  const sse = sseChunk();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString();
      if (req.url === '/big') {
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        return streamBig(res, raw, '');
      }
      if (req.url?.endsWith('/v1/messages') === true && body.includes('"bench-big"')) {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        const usage = JSON.stringify({ type: 'message_delta', delta: {}, usage: { output_tokens: 9 } });
        return streamBig(res, sse, `event: message_delta\ndata: ${usage}\n\n`);
      }
      const answer = req.url?.endsWith('/v1/messages') === true ? MESSAGE : SMALL;
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(answer) });
      res.end(answer);
    });
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = tcpAddress(server.address());
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function tcpAddress(address: string | AddressInfo | null): AddressInfo {
  if (address === null || typeof address === 'string') throw new Error('origin has no TCP address');
  return address;
}
