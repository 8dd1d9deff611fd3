// A private test origin in a network namespace the test creates itself: a veth pair in 10.203.X.0/30 and a
// tiny HTTP server inside the namespace. Only this namespace's address is ever sent a packet.
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import crypto from 'node:crypto';

export const canCreateNetns =
  process.getuid?.() === 0 &&
  spawnSync('ip', ['-V']).status === 0 &&
  spawnSync('curl', ['--version']).status === 0;

const ORIGIN_READY_TIMEOUT_MS = 10_000;

export interface NetnsOrigin {
  /** The origin's address inside the namespace (10.203.X.2). */
  address: string;
  ports: number[];
  /** Request lines the origin has received, in order. */
  seen: string[];
  close(): void;
}

function ip(args: string[]): void {
  const r = spawnSync('ip', args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ip ${args.join(' ')} failed: ${r.stderr}`);
}

/** A 10.203.X.0/30 that no interface on this host uses yet. */
function freeSubnet(): number {
  const used = spawnSync('ip', ['-4', '-o', 'addr', 'show'], { encoding: 'utf8' }).stdout;
  for (;;) {
    const x = crypto.randomInt(1, 255);
    if (!used.includes(`10.203.${x}.`)) return x;
  }
}

/**
 * Answers `NETNS-ORIGIN method url` (or, for /redirect-to/PORT, a 302 to that port; for /static/…, a file of
 * STATIC_DIR, e.g. a git repository served over git's dumb HTTP protocol) and logs each request line.
 */
const SERVER = `
const http = require('node:http');
const fs = require('node:fs');
const path = require('node:path');
const [address, ...ports] = process.argv.slice(1);
const dir = process.env.STATIC_DIR;
let pending = ports.length;
for (const port of ports) {
  http.createServer((req, res) => {
    console.log('REQ ' + req.method + ' ' + req.url);
    if (dir && req.url.startsWith('/static/')) {
      const file = path.join(dir, decodeURIComponent(req.url.slice(8).split('?')[0]));
      if (!file.startsWith(dir + '/')) return res.writeHead(403).end();
      return fs.readFile(file, (err, data) => (err ? res.writeHead(404).end() : res.end(data)));
    }
    const to = /^\\/redirect-to\\/(\\d+)$/.exec(req.url);
    if (to) return res.writeHead(302, { location: 'http://' + address + ':' + to[1] + '/landed' }).end();
    res.end('NETNS-ORIGIN ' + req.method + ' ' + req.url + '\\n');
  }).listen(Number(port), address, () => { if (--pending === 0) console.log('READY'); });
}`;

export async function startNetnsOrigin(
  ports: number[],
  opts: { staticDir?: string } = {},
): Promise<NetnsOrigin> {
  const id = crypto.randomBytes(3).toString('hex');
  const ns = `corral-t-${id}`;
  const [hostSide, nsSide] = [`ct${id}h`, `ct${id}n`];
  const x = freeSubnet();
  const address = `10.203.${x}.2`;
  let server: ChildProcessWithoutNullStreams | undefined;
  const close = (): void => {
    server?.kill('SIGKILL');
    spawnSync('ip', ['netns', 'del', ns]); // removes the namespace's end of the pair, and with it the host's
    spawnSync('ip', ['link', 'del', hostSide]);
  };
  try {
    ip(['netns', 'add', ns]);
    ip(['link', 'add', hostSide, 'type', 'veth', 'peer', 'name', nsSide]);
    ip(['link', 'set', nsSide, 'netns', ns]);
    ip(['addr', 'add', `10.203.${x}.1/30`, 'dev', hostSide]);
    ip(['link', 'set', hostSide, 'up']);
    ip(['-n', ns, 'addr', 'add', `${address}/30`, 'dev', nsSide]);
    ip(['-n', ns, 'link', 'set', nsSide, 'up']);
    ip(['-n', ns, 'link', 'set', 'lo', 'up']);
    const seen: string[] = [];
    const child = spawn(
      'ip',
      ['netns', 'exec', ns, process.execPath, '-e', SERVER, address, ...ports.map(String)],
      {
        env: {
          PATH: process.env['PATH'] ?? '/usr/bin:/bin',
          ...(opts.staticDir ? { STATIC_DIR: opts.staticDir } : {}),
        },
      },
    );
    server = child;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error('netns origin did not start')),
        ORIGIN_READY_TIMEOUT_MS,
      );
      child.stderr.on('data', (c: Buffer) => process.stderr.write(c));
      child.on('exit', (code) => reject(new Error(`netns origin exited with ${code}`)));
      child.stdout.on('data', (c: Buffer) => {
        for (const line of c.toString().split('\n')) {
          if (line === 'READY') {
            clearTimeout(timer);
            resolve();
          } else if (line.startsWith('REQ ')) seen.push(line.slice(4));
        }
      });
    });
    return { address, ports, seen, close };
  } catch (err) {
    close();
    throw err;
  }
}
