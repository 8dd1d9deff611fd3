// The running host's channel states (run/channels.json, written by the host every few seconds), for
// `corral channel list` and `corral doctor`.
import { z } from 'zod';
import { readRegularFile } from '../../config/yaml-file.ts';

const Status = z.object({
  name: z.string(),
  kind: z.string(),
  state: z.enum(['starting', 'connected', 'retrying', 'failed', 'stopped']),
  since: z.string(),
  detail: z.string().optional(),
  fix: z.string().optional(),
});
const File = z.object({ at: z.string(), channels: z.array(Status) });
export type LiveChannelStatus = z.infer<typeof Status>;

export function readChannelStatus(file: string): LiveChannelStatus[] | undefined {
  try {
    const text = readRegularFile(file);
    if (text === undefined) return undefined;
    const parsed = File.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data.channels : undefined;
  } catch {
    return undefined;
  }
}
