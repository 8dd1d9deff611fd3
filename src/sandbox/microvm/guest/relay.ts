// Runs inside the microVM (bundled into its initramfs): listens on the gateway socket path the runtime expects
// and carries every connection over the gateway's virtio-serial port to the host, which has no other way in.
// Usage: node relay.mjs PORT_DEVICE SOCKET_PATH
import fs from 'node:fs';
import net from 'node:net';
import { createMux, encodeFrame, FRAME } from '../mux.ts';

const [device, socketPath] = process.argv.slice(2);
if (device === undefined || socketPath === undefined) {
  process.stderr.write('usage: relay PORT_DEVICE SOCKET_PATH\n');
  process.exit(2);
}

// a virtio port may be open once: one descriptor carries both directions
const fd = fs.openSync(device, 'r+');
const out = fs.createWriteStream('', { fd, autoClose: false });
const mux = createMux({ send: (b) => out.write(b) });
let next = 1;

const server = net.createServer({ allowHalfOpen: true }, (client) => {
  const id = next++;
  out.write(encodeFrame(id, FRAME.open));
  mux.attach(id, client);
});
// made under another name and moved into place once usable: the init waits for the final name to appear
const staging = `${socketPath}.new`;
server.listen(staging, () => {
  fs.chmodSync(staging, 0o666);
  fs.renameSync(staging, socketPath);
});

fs.createReadStream('', { fd, autoClose: false, highWaterMark: 64 * 1024 })
  .on('data', (chunk) => mux.receive(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk)))
  .on('end', () => {
    // the host went away: nothing can reach the gateway any more
    mux.closeAll();
    server.close();
    process.exit(0);
  });
