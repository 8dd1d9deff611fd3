// Files an agent sends with its reply (the send_file tool), as the host takes them: the bytes arrived over the
// control stream, never as a path; here they are checked (size, sha256, per-turn caps), named safely and typed.
import { createHash, randomUUID } from 'node:crypto';
import type { SendFileRequest } from '../protocol/requests.ts';
import { MAX_SEND_FILE_BYTES } from '../protocol/requests.ts';
import type { FileInsert } from '../store/daemon-types.ts';
import type { HostAnswer } from './turn.ts';

/** Files one turn may send, and their bytes together (held in memory until the turn commits). */
export const MAX_TURN_FILES = 10;
export const MAX_TURN_FILE_BYTES = 50 * 1024 * 1024;
const MAX_NAME_BYTES = 200;

/** The bytes that came with a request, or why they did not (the runtime sent too much, or out of order). */
export type Attachment = { ok: true; bytes: Buffer } | { ok: false; reason: string };

const MIME: Record<string, string> = {
  txt: 'text/plain',
  log: 'text/plain',
  md: 'text/markdown',
  csv: 'text/csv',
  tsv: 'text/tab-separated-values',
  html: 'text/html',
  htm: 'text/html',
  css: 'text/css',
  xml: 'application/xml',
  json: 'application/json',
  yaml: 'application/yaml',
  yml: 'application/yaml',
  pdf: 'application/pdf',
  zip: 'application/zip',
  gz: 'application/gzip',
  tgz: 'application/gzip',
  tar: 'application/x-tar',
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  gif: 'image/gif',
  webp: 'image/webp',
  svg: 'image/svg+xml',
  mp3: 'audio/mpeg',
  ogg: 'audio/ogg',
  wav: 'audio/wav',
  mp4: 'video/mp4',
  webm: 'video/webm',
  docx: 'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
  xlsx: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
  pptx: 'application/vnd.openxmlformats-officedocument.presentationml.presentation',
  odt: 'application/vnd.oasis.opendocument.text',
  ods: 'application/vnd.oasis.opendocument.spreadsheet',
};

/** The type a file's name suggests; application/octet-stream when it suggests none. */
export function mimeFor(name: string): string {
  const dot = name.lastIndexOf('.');
  return (dot > 0 && MIME[name.slice(dot + 1).toLowerCase()]) || 'application/octet-stream';
}

/**
 * A name safe to hand to a platform or put in a Content-Disposition header: the last path segment, without
 * control or bidi-override characters (which could disguise an extension), at most 200 UTF-8 bytes keeping the
 * extension; "file" when nothing is left.
 */
export function safeFileName(raw: string): string {
  const last = raw.split(/[/\\]/).pop() ?? '';
  let name = last
    .replace(/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/gu, '')
    .replace(/["]/g, "'")
    .trim();
  if (name === '' || /^\.+$/.test(name)) return 'file';
  if (Buffer.byteLength(name) > MAX_NAME_BYTES) {
    const dot = name.lastIndexOf('.');
    const ext = dot > 0 && name.length - dot <= 16 ? name.slice(dot) : '';
    let stem = name.slice(0, name.length - ext.length);
    while (Buffer.byteLength(stem + ext) > MAX_NAME_BYTES) stem = [...stem].slice(0, -1).join('');
    name = stem + ext;
  }
  return name;
}

/** Collects one turn's files; each accepted one is committed with the reply (store.completeMessage). */
export function createFileCollector() {
  const files: FileInsert[] = [];
  let bytes = 0;
  const refuse = (why: string): HostAnswer => ({ output: `file not sent: ${why}`, isError: true });
  return {
    add(request: SendFileRequest, attachment: Attachment | undefined): HostAnswer {
      if (attachment === undefined) return refuse('its content did not arrive');
      if (!attachment.ok) return refuse(attachment.reason);
      const content = attachment.bytes;
      if (content.length > MAX_SEND_FILE_BYTES)
        return refuse(`it is over ${MAX_SEND_FILE_BYTES / 1024 / 1024} MiB`);
      if (content.length !== request.size)
        return refuse(`${content.length} bytes arrived, ${request.size} were announced`);
      // Telegram and Slack refuse empty documents, and a refusal would sink the whole reply
      if (content.length === 0) return refuse('it is empty');
      const sha256 = createHash('sha256').update(content).digest('hex');
      if (sha256 !== request.sha256) return refuse('its content arrived damaged (sha256 differs)');
      if (files.length >= MAX_TURN_FILES) return refuse(`a reply carries at most ${MAX_TURN_FILES} files`);
      if (bytes + content.length > MAX_TURN_FILE_BYTES)
        return refuse(`a reply carries at most ${MAX_TURN_FILE_BYTES / 1024 / 1024} MiB of files`);
      bytes += content.length;
      const name = safeFileName(request.name);
      const caption = request.caption?.replace(/[\p{Cc}]/gu, (c) => (c === '\n' ? c : '')) ?? null;
      files.push({
        id: randomUUID(),
        name,
        mime: mimeFor(name),
        size: content.length,
        sha256,
        caption,
        content,
      });
      return {
        output: `${name} (${content.length} bytes) will be delivered with your reply`,
        isError: false,
      };
    },
    files: (): FileInsert[] => [...files],
  };
}
