// Many byte streams over one virtio-serial port: how the guest reaches the gateway without a network device.
// Frames are [u32 stream id][u8 type][u32 length][payload]. The guest opens streams (one per connection to the
// gateway socket inside the VM), the host connects each to the real gateway socket. Each direction of each
// stream has a credit window, so one slow connection never stalls the port for the others.
import type { Duplex } from 'node:stream';

export const FRAME = { open: 1, data: 2, end: 3, reset: 4, credit: 5 } as const;
type FrameType = (typeof FRAME)[keyof typeof FRAME];
const HEADER_BYTES = 9;
/** bytes one side may send on a stream before the other confirms it has passed them on */
export const WINDOW_BYTES = 256 * 1024;
export const MAX_PAYLOAD_BYTES = 64 * 1024;

export interface Frame {
  id: number;
  type: number;
  payload: Buffer;
}

export function encodeFrame(id: number, type: FrameType, payload: Buffer = Buffer.alloc(0)): Buffer {
  const head = Buffer.alloc(HEADER_BYTES);
  head.writeUInt32BE(id, 0);
  head.writeUInt8(type, 4);
  head.writeUInt32BE(payload.length, 5);
  return Buffer.concat([head, payload]);
}

/** Splits a byte stream into frames; throws on a frame larger than any peer sends (a corrupt stream). */
export function createFrameDecoder(): (chunk: Buffer) => Frame[] {
  let pending: Buffer = Buffer.alloc(0);
  return (chunk) => {
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    const frames: Frame[] = [];
    while (pending.length >= HEADER_BYTES) {
      const length = pending.readUInt32BE(5);
      if (length > MAX_PAYLOAD_BYTES) throw new Error(`mux: frame of ${length} bytes`);
      if (pending.length < HEADER_BYTES + length) break;
      frames.push({
        id: pending.readUInt32BE(0),
        type: pending.readUInt8(4),
        payload: pending.subarray(HEADER_BYTES, HEADER_BYTES + length),
      });
      pending = pending.subarray(HEADER_BYTES + length);
    }
    return frames;
  };
}

interface Stream {
  socket: Duplex;
  /** bytes we may still send before the peer grants more */
  credit: number;
}

export interface Mux {
  /** binds a local stream to `id` (the guest calls this for a connection it accepted, after sending open) */
  attach(id: number, socket: Duplex): void;
  /** bytes read from the port */
  receive(chunk: Buffer): void;
  /** the port is gone: every stream ends */
  closeAll(): void;
  /** streams still open */
  size(): number;
}

export function createMux(opts: {
  /** writes bytes to the port */
  send: (bytes: Buffer) => void;
  /** the peer opened stream `id`: a local stream to connect it to, or undefined to refuse */
  onOpen?: (id: number) => Duplex | undefined;
}): Mux {
  const streams = new Map<number, Stream>();
  const decode = createFrameDecoder();

  const attach = (id: number, socket: Duplex): void => {
    const s: Stream = { socket, credit: WINDOW_BYTES };
    streams.set(id, s);
    socket.on('data', (chunk: Buffer) => {
      for (let at = 0; at < chunk.length; at += MAX_PAYLOAD_BYTES) {
        opts.send(encodeFrame(id, FRAME.data, chunk.subarray(at, at + MAX_PAYLOAD_BYTES)));
      }
      s.credit -= chunk.length;
      if (s.credit <= 0) socket.pause();
    });
    socket.on('end', () => opts.send(encodeFrame(id, FRAME.end)));
    socket.on('error', () => undefined); // 'close' follows, and the peer learns of it there
    socket.on('close', () => {
      if (streams.get(id) !== s) return;
      streams.delete(id);
      if (!(socket.readableEnded && socket.writableFinished)) opts.send(encodeFrame(id, FRAME.reset));
    });
  };

  const handle = (f: Frame): void => {
    const s = streams.get(f.id);
    switch (f.type) {
      case FRAME.open: {
        const socket = s === undefined ? opts.onOpen?.(f.id) : undefined;
        if (socket === undefined) opts.send(encodeFrame(f.id, FRAME.reset));
        else attach(f.id, socket);
        return;
      }
      case FRAME.data: {
        if (s === undefined) return;
        const n = f.payload.length;
        // the credit goes back once the bytes have left for the local side
        s.socket.write(Buffer.from(f.payload), (err) => {
          if (err === undefined || err === null) {
            const grant = Buffer.alloc(4);
            grant.writeUInt32BE(n);
            opts.send(encodeFrame(f.id, FRAME.credit, grant));
          }
        });
        return;
      }
      case FRAME.credit:
        if (s === undefined || f.payload.length !== 4) return;
        s.credit += f.payload.readUInt32BE(0);
        if (s.credit > 0 && s.socket.isPaused()) s.socket.resume();
        return;
      case FRAME.end:
        s?.socket.end();
        return;
      case FRAME.reset:
        if (s === undefined) return;
        streams.delete(f.id);
        s.socket.destroy();
        return;
      default:
        throw new Error(`mux: unknown frame type ${f.type}`);
    }
  };

  return {
    attach,
    receive: (chunk) => decode(chunk).forEach(handle),
    closeAll() {
      for (const [id, s] of streams) {
        streams.delete(id);
        s.socket.destroy();
      }
    },
    size: () => streams.size,
  };
}
