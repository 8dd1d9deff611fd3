// An outbox item names the files it carries ({id, name, …}); the content stays in the store (message_files) and
// is read here, just before each delivery attempt, so a payload row stays small and a retry after a crash has it.
import { z } from 'zod';
import type { OutgoingFile } from '../../channels/types.ts';
import { PermanentDeliveryError } from '../../channels/types.ts';
import type { OutboxRow } from '../../store/daemon-types.ts';
import type { Store } from '../../store/types.ts';

const FileRef = z.object({ id: z.string().min(1) }).loose();

/** The item with the content of every file it names (base64, as OutgoingFile); unchanged when it names none. */
export function withFileContents(store: Pick<Store, 'getMessageFile'>, item: OutboxRow): OutboxRow {
  const files: unknown = item.payload['files'];
  if (!Array.isArray(files) || files.length === 0) return item;
  const loaded = files.map((raw: unknown): unknown => {
    const ref = FileRef.safeParse(raw);
    if (!ref.success || 'content' in ref.data) return raw; // already carries its content (or is not ours to read)
    const f = store.getMessageFile(item.messageId, ref.data.id);
    if (f === undefined)
      throw new PermanentDeliveryError(
        `file ${ref.data.id} of outbox item ${item.key} is gone from the store`,
      );
    const out: OutgoingFile = {
      id: f.id,
      name: f.name,
      mime: f.mime,
      size: f.size,
      sha256: f.sha256,
      ...(f.caption === null ? {} : { caption: f.caption }),
      content: f.content.toString('base64'),
    };
    return out;
  });
  return { ...item, payload: { ...item.payload, files: loaded } };
}
