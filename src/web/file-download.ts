// Sends a file an agent produced as a download. Its name and type came from the agent, so the answer is built to
// be inert: always an attachment, never sniffed, and under a sandboxing CSP should a browser render it anyway.
import type { ServerResponse } from 'node:http';
import type { FileInsert } from '../store/daemon-types.ts';

/** `filename=` gets an ASCII stand-in, `filename*=` the real (already sanitised) name, RFC 6266 / 8187. */
function disposition(name: string): string {
  const ascii = name.replace(/[^\x20-\x7e]/g, '_').replace(/["\\]/g, '_');
  // encodeURIComponent leaves ' ( ) * ! alone; RFC 8187's attr-char does not allow them
  const ext = encodeURIComponent(name).replace(
    /['()*!]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
  return `attachment; filename="${ascii}"; filename*=UTF-8''${ext}`;
}

export function sendFileDownload(res: ServerResponse, file: FileInsert): void {
  res.writeHead(200, {
    'content-type': file.mime,
    'content-length': String(file.content.length),
    'content-disposition': disposition(file.name),
    'x-content-type-options': 'nosniff',
    'content-security-policy': "default-src 'none'; sandbox",
    'cache-control': 'private, no-store',
    'x-corral-sha256': file.sha256,
  });
  res.end(file.content);
}
