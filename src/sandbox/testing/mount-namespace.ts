// Test helpers for what other mount namespaces hold: a process in a private namespace made now (as an image build
// makes one), and which namespaces keep a loop device of a volume attached.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { loopDevicesOf } from '../../util/mountinfo.ts';
import { describeProc } from './footprint.ts';

const POLL_MS = 50;
const ENTER_WAIT_MS = 5_000;

export interface OtherNamespace {
  pid: number;
  /** whether its namespace still has a mount at `dir` */
  holds(dir: string): boolean;
  running(): boolean;
  end(): Promise<void>;
}

/**
 * A process in a private mount namespace of its own (`unshare --mount --propagation private`, as
 * src/sandbox/image/bootstrap.ts runs an image build): it keeps a copy of every mount there is when it starts,
 * and no unmount on the host propagates to it. Resolves once it is in that namespace.
 */
export async function otherMountNamespace(): Promise<OtherNamespace> {
  const child = spawn('unshare', ['--mount', '--propagation', 'private', 'sleep', '300'], {
    stdio: 'ignore',
  });
  const pid = child.pid ?? 0;
  const exited = new Promise((r) => child.once('exit', r));
  const read = (file: string): string => {
    try {
      return file.startsWith('ns')
        ? fs.readlinkSync(`/proc/${pid}/${file}`)
        : fs.readFileSync(`/proc/${pid}/${file}`, 'utf8');
    } catch {
      return '';
    }
  };
  const ours = fs.readlinkSync('/proc/self/ns/mnt');
  // unshare execs sleep once the namespace is made: the same pid, in a namespace other than ours
  for (let waited = 0; waited < ENTER_WAIT_MS; waited += POLL_MS) {
    if (read('ns/mnt') !== ours && read('ns/mnt') !== '' && read('cmdline').startsWith('sleep')) break;
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
  return {
    pid,
    holds: (dir) => read('mountinfo').includes(` ${dir} `),
    running: () => child.exitCode === null && child.signalCode === null,
    async end() {
      child.kill('SIGKILL');
      await exited;
    },
  };
}

/** The loop devices still attached to `image`, each with the processes whose mount namespace has it mounted. */
export function attachedLoops(image: string): string[] {
  return loopDevicesOf(image).map((dev) => {
    const holders: string[] = [];
    for (const e of fs.readdirSync('/proc')) {
      if (!/^\d+$/.test(e)) continue;
      try {
        if (fs.readFileSync(`/proc/${e}/mountinfo`, 'utf8').includes(` ${dev} `))
          holders.push(describeProc(Number(e)).slice(0, 100));
      } catch {
        // gone meanwhile
      }
    }
    return `${dev} mounted in the namespace of: ${holders.slice(0, 5).join('; ') || 'no process'}`;
  });
}
