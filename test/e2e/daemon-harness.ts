// Runs `corral up` as a child process of an e2e home, talks to its API, and receives webhook deliveries.
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { createServer } from 'node:http';
import path from 'node:path';
import type { createE2e } from './harness.ts';

type E2e = Awaited<ReturnType<typeof createE2e>>;
const UP_TIMEOUT_MS = 60_000;

export interface Up {
  url: string;
  child: ChildProcessWithoutNullStreams;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  api: (method: string, p: string, body?: unknown) => Promise<{ status: number; body: unknown }>;
}

/** Starts `corral up --port 0 …` and resolves once it printed where it listens. */
export async function startUp(e: E2e, args: string[] = []): Promise<Up> {
  const [cmd, cmdArgs] = e.argv(['up', '--port', '0', ...args]);
  const child = spawn(cmd, cmdArgs, { env: e.env, stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`corral up did not start:\n${stderr}`)), UP_TIMEOUT_MS);
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      const m = /corral is up at (http:\/\/\S+)/.exec(stderr);
      if (m?.[1] !== undefined) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    void exited.then((x) => reject(new Error(`corral up exited (${String(x.code)}):\n${stderr}`)));
  });
  const token = fs.readFileSync(path.join(e.home, 'api-token'), 'utf8').trim();
  const api = async (method: string, p: string, body?: unknown) => {
    const res = await fetch(url + p, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // not JSON (metrics): keep the text
    }
    return { status: res.status, body: parsed };
  };
  return { url, child, stderr: () => stderr, exited, api };
}

/**
 * A test's clean-up: stops a `corral up` that still runs and waits until it is gone. SIGTERM is a clean stop (a
 * killed host leaves its layer mounts until the next start reaps them); SIGKILL for hosts a test crashes anyway.
 */
export async function stopUp(up: Up | undefined, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (up === undefined) return;
  if (up.child.exitCode === null && up.child.signalCode === null) up.child.kill(signal);
  await up.exited;
}

export interface Delivery {
  key: string;
  body: Record<string, unknown>;
}

/** A local webhook receiver that records every POST it gets (repeats included). */
export async function startReceiver(): Promise<{
  url: string;
  deliveries: Delivery[];
  close(): Promise<void>;
}> {
  const deliveries: Delivery[] = [];
  const server = createServer((req, res) => {
    let raw = '';
    req.on('data', (c: Buffer) => (raw += c.toString()));
    req.on('end', () => {
      const body: unknown = JSON.parse(raw);
      deliveries.push({
        key: String(req.headers['idempotency-key']),
        body: typeof body === 'object' && body !== null ? { ...body } : {},
      });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const addr = server.address();
  const port = addr !== null && typeof addr === 'object' ? addr.port : 0;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    deliveries,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/** Polls until `check` returns a value (or the time is up). */
export async function eventually<T>(
  check: () => T | undefined | Promise<T | undefined>,
  what: string,
  ms = 60_000,
): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Processes whose command line mentions `needle` (the e2e home): sandboxes, runtimes, the host itself. */
export function processesMentioning(needle: string): string[] {
  const out: string[] = [];
  for (const pid of fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
      if (cmdline.includes(needle) && Number(pid) !== process.pid)
        out.push(`${pid}: ${cmdline.slice(0, 200)}`);
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** A string field of a JSON answer, or a failure naming what was there instead. */
export function field(body: unknown, name: string): string {
  if (typeof body === 'object' && body !== null && name in body) {
    const v: unknown = Reflect.get(body, name);
    if (typeof v === 'string') return v;
  }
  throw new Error(`no string '${name}' in ${JSON.stringify(body)}`);
}
