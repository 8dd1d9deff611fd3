// The control stream's version and sizes, apart from its schemas: the runtime reports ready before it loads zod.

export const PROTOCOL_VERSION = 1;

/** Longest line either side accepts; a bigger frame is a protocol error, not a reason to buffer forever. */
export const MAX_FRAME_BYTES = 8 * 1024 * 1024;

/** Bytes per file_chunk frame: base64 of it stays far below MAX_FRAME_BYTES. */
export const FILE_CHUNK_BYTES = 1024 * 1024;
