// CONNECT egress: after admission, a TCP connection to the exact address that was checked, answered with
// `200 Connection Established`, then raw bytes both ways (TLS passes through untouched).
import net from 'node:net';
import type { Duplex } from 'node:stream';
import type { Admission, EgressContext } from './egress-gate.ts';
import { EGRESS_CONNECT_TIMEOUT_MS, EGRESS_IDLE_TIMEOUT_MS } from './egress.ts';

/** A complete HTTP/1.1 answer on a raw socket, after which the socket is closed. */
export function rawReply(socket: Duplex, status: string, text: string): void {
  socket.end(
    `HTTP/1.1 ${status}\r\ncontent-type: text/plain; charset=utf-8\r\n` +
      `content-length: ${Buffer.byteLength(text)}\r\nconnection: close\r\n\r\n${text}`,
  );
}

/** Opens the tunnel for an admitted CONNECT; `head` is whatever the client sent after its request. */
export function openTunnel(
  ctx: EgressContext,
  client: Duplex,
  head: Buffer,
  port: number,
  dest: Extract<Admission, { ok: true }>,
): void {
  if (client.destroyed) return;
  const timeouts = ctx.deps.egress?.timeouts;
  const upstream = net.connect({ host: dest.address, port, family: dest.family, noDelay: true });
  const connectTimer = setTimeout(() => {
    upstream.destroy();
    rawReply(
      client,
      '504 Gateway Timeout',
      `corral gateway: connecting to ${dest.address}:${port} timed out\n`,
    );
  }, timeouts?.connectMs ?? EGRESS_CONNECT_TIMEOUT_MS);
  let established = false;
  upstream.once('connect', () => {
    clearTimeout(connectTimer);
    established = true;
    client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
    if (head.length > 0) upstream.write(head);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  const idle = timeouts?.idleMs ?? EGRESS_IDLE_TIMEOUT_MS;
  const end = (): void => {
    clearTimeout(connectTimer);
    upstream.destroy();
    client.destroy();
  };
  upstream.setTimeout(idle, end);
  if (client instanceof net.Socket) client.setTimeout(idle, end);
  upstream.on('error', (err) => {
    clearTimeout(connectTimer);
    if (established) return end();
    const code = 'code' in err ? String(err.code) : 'error';
    rawReply(
      client,
      '502 Bad Gateway',
      `corral gateway: connecting to ${dest.address}:${port} failed: ${code}\n`,
    );
  });
  client.on('error', end);
  // The client's FIN reaches the destination through pipe(); only a vanished client ends both at once.
  client.once('close', end);
}
