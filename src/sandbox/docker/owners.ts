// Which corral process owns which container: one small record per sandbox under the run dir, so a reap (or a
// session ending while another one still uses the agent's container) can tell a live owner from a dead one.
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { processAlive, processStartTime } from '../../util/process-start.ts';

const OwnerRecord = z.object({
  sandboxId: z.string(),
  container: z.string(),
  pid: z.number().int(),
  start: z.string(),
});
export type OwnerRecord = z.infer<typeof OwnerRecord>;

export function createOwnerRecords(runDir: string) {
  const dir = path.join(runDir, 'docker', 'owners');
  const file = (sandboxId: string): string => path.join(dir, `${encodeURIComponent(sandboxId)}.json`);
  return {
    add(sandboxId: string, container: string): void {
      fs.mkdirSync(dir, { recursive: true, mode: 0o711 });
      fs.chmodSync(dir, 0o700);
      const rec: OwnerRecord = {
        sandboxId,
        container,
        pid: process.pid,
        start: processStartTime(process.pid) ?? '',
      };
      // written whole, then renamed: a reader never sees half a record
      const tmp = `${file(sandboxId)}.${process.pid}.tmp`;
      fs.writeFileSync(tmp, JSON.stringify(rec), { mode: 0o600 });
      fs.renameSync(tmp, file(sandboxId));
    },
    remove(sandboxId: string): void {
      fs.rmSync(file(sandboxId), { force: true });
    },
    /** Every record, the dead ones deleted on the way (their process is gone; nothing will remove them). */
    live(): OwnerRecord[] {
      let names: string[];
      try {
        names = fs.readdirSync(dir);
      } catch {
        return [];
      }
      const alive: OwnerRecord[] = [];
      for (const name of names) {
        if (!name.endsWith('.json')) continue;
        const p = path.join(dir, name);
        try {
          const rec = OwnerRecord.parse(JSON.parse(fs.readFileSync(p, 'utf8')));
          if (processAlive(rec)) alive.push(rec);
          else fs.rmSync(p, { force: true });
        } catch {
          fs.rmSync(p, { force: true });
        }
      }
      return alive;
    },
  };
}

export type OwnerRecords = ReturnType<typeof createOwnerRecords>;
