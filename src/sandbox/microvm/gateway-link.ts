// The host's end of the gateway port: every stream the guest opens becomes a fresh connection to this
// sandbox's gateway socket, so the gateway still knows the agent by the socket it came in on.
import net from 'node:net';
import type { Duplex } from 'node:stream';
import { createMux } from './mux.ts';

export function linkGateway(port: Duplex, gatewaySocket: string): { close(): void } {
  const mux = createMux({
    send: (b) => {
      if (!port.destroyed) port.write(b);
    },
    onOpen: () => net.createConnection({ path: gatewaySocket, allowHalfOpen: true }),
  });
  port.on('data', (chunk: Buffer) => {
    try {
      mux.receive(chunk);
    } catch {
      // a corrupt stream from the guest: drop the link, the VM keeps running without a gateway
      mux.closeAll();
      port.destroy();
    }
  });
  port.on('error', () => undefined);
  port.on('close', () => mux.closeAll());
  return { close: () => mux.closeAll() };
}
