// One daemon per $CORRAL_HOME: run/daemon.json records its pid and URL (for `corral logs` and `task`), and a
// second `corral up` on the same home refuses while the first one lives.
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import type { HomePaths } from '../../config/home.ts';
import { CorralError } from '../../util/errors.ts';
import { ensurePrivateDir } from '../agent-dirs.ts';

const DaemonInfo = z.object({ pid: z.number().int(), url: z.string(), startedAt: z.string() });
export type DaemonInfo = z.infer<typeof DaemonInfo>;

export const daemonInfoFile = (home: HomePaths): string => path.join(home.runDir, 'daemon.json');

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return err instanceof Error && 'code' in err && err.code === 'EPERM';
  }
}

/** The running daemon's record, or undefined when none runs (a stale record counts as none). */
export function readDaemonInfo(home: HomePaths): DaemonInfo | undefined {
  let text: string;
  try {
    text = fs.readFileSync(daemonInfoFile(home), 'utf8');
  } catch {
    return undefined;
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return undefined;
  }
  const parsed = DaemonInfo.safeParse(json);
  if (!parsed.success || !alive(parsed.data.pid)) return undefined;
  return parsed.data;
}

/** Claims the home for this process (refusing while another daemon holds it); `setUrl` once listening. */
export function claimHome(home: HomePaths, now: Date): { setUrl(url: string): void; release(): void } {
  ensurePrivateDir(home.runDir, 0o711);
  const running = readDaemonInfo(home);
  if (running !== undefined && running.pid !== process.pid)
    throw new CorralError(
      'daemon_running',
      `corral up is already running for ${home.root} (pid ${running.pid}, ${running.url})`,
      `stop it first (kill ${running.pid}), or use another CORRAL_HOME`,
    );
  const file = daemonInfoFile(home);
  const write = (url: string): void => {
    const tmp = `${file}.${process.pid}.tmp`;
    const info: DaemonInfo = { pid: process.pid, url, startedAt: now.toISOString() };
    fs.writeFileSync(tmp, JSON.stringify(info) + '\n', { mode: 0o600 });
    fs.renameSync(tmp, file);
  };
  write('');
  return {
    setUrl: write,
    release() {
      if (readDaemonInfo(home)?.pid === process.pid) fs.rmSync(file, { force: true });
    },
  };
}
