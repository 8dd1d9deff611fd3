// Reassembles the file_chunk frames of one turn into the attachment of the request that follows them, holding at
// most MAX_TURN_FILE_BYTES: a runtime that sends more, or out of order, gets a refusal, never the host's memory.
import type { FileChunkFrame } from '../protocol/frames.ts';
import { MAX_SEND_FILE_BYTES } from '../protocol/requests.ts';
import type { Attachment } from './outgoing-files.ts';
import { MAX_TURN_FILE_BYTES } from './outgoing-files.ts';

const MIB = 1024 * 1024;
const sized = (bytes: number): string => (bytes >= MIB ? `${bytes / MIB} MiB` : `${bytes} bytes`);

interface PendingFile {
  parts: Buffer[];
  bytes: number;
  next: number;
  broken?: string;
}

export function createChunkAssembler(limits = { file: MAX_SEND_FILE_BYTES, turn: MAX_TURN_FILE_BYTES }) {
  const open = new Map<string, PendingFile>();
  let held = 0;
  const drop = (p: PendingFile, why: string): void => {
    held -= p.bytes;
    p.parts = [];
    p.bytes = 0;
    p.broken ??= why;
  };
  return {
    add(f: FileChunkFrame): void {
      let p = open.get(f.requestId);
      if (p === undefined) {
        p = { parts: [], bytes: 0, next: 0 };
        open.set(f.requestId, p);
      }
      if (p.broken !== undefined) return;
      if (f.seq !== p.next) return drop(p, `chunk ${f.seq} came where ${p.next} was due`);
      const bytes = Buffer.from(f.data, 'base64');
      p.next++;
      if (p.bytes + bytes.length > limits.file) return drop(p, `it is over ${sized(limits.file)}`);
      if (held + bytes.length > limits.turn)
        return drop(p, `the turn's files are over ${sized(limits.turn)}`);
      p.parts.push(bytes);
      p.bytes += bytes.length;
      held += bytes.length;
    },
    /** The request's bytes (an empty file has no chunks), handed over once: the assembler forgets them. */
    take(requestId: string): Attachment {
      const p = open.get(requestId);
      open.delete(requestId);
      if (p === undefined) return { ok: true, bytes: Buffer.alloc(0) };
      held -= p.bytes;
      return p.broken !== undefined
        ? { ok: false, reason: p.broken }
        : { ok: true, bytes: Buffer.concat(p.parts) };
    },
  };
}
