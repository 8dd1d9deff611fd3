// Runs the real `corral` CLI as a child process against a temporary $CORRAL_HOME and a stand-in model server.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { expect } from 'vitest';
import { parseMountinfo } from '../../src/util/mountinfo.ts';
import { corralAsUser } from '../fixtures/as-user.ts';
import { testImageCache } from '../fixtures/base-image.ts';
import type { Script } from '../fixtures/model-server.ts';
import { defaultScript, startModelServer } from '../fixtures/model-server.ts';

const BIN = fileURLToPath(new URL('../../bin/corral.js', import.meta.url));
const CLI_TIMEOUT_MS = 60_000;

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** One set-up command: its arguments and, optionally, its standard input. */
export type Step = [args: string[], input?: string];

/** `corral provider add` for a stand-in endpoint. */
export function addProvider(
  name: string,
  kind: 'anthropic' | 'openai',
  url: string,
  keySecret: string,
): Step {
  return [['provider', 'add', name, '--kind', kind, '--base-url', url, '--key-secret', keySecret]];
}

/** Agent volumes (mounted when the tests run as root) come off before their home is deleted. */
export function unmountUnder(dir: string): void {
  const real = fs.realpathSync(dir);
  const points = parseMountinfo(fs.readFileSync('/proc/self/mountinfo', 'utf8'))
    .map((m) => m.mountPoint)
    .filter((p) => p.startsWith(real + '/'))
    .reverse();
  // lazily when busy (a sandbox of a timed-out test may still be exiting): the home must go in any case
  for (const p of points) if (spawnSync('umount', [p]).status !== 0) spawnSync('umount', ['-l', p]);
}

/** Where an agent's workspace is on the host. */
export const workspaceOf = (home: string, agent: string): string =>
  path.join(home, 'data', agent, 'workspace');

export const hasBwrap = spawnSync('bwrap', ['--version']).status === 0;

/** Model names choose failures, so one stand-in serves every scenario. */
export const e2eScript: Script = (req) => {
  const status = /^fail-(\d{3})$/.exec(req.model);
  if (status?.[1] !== undefined) return { kind: 'status', status: Number(status[1]) };
  if (req.model === 'malformed') return { kind: 'malformed' };
  if (req.model === 'truncated') return { kind: 'truncated' };
  return defaultScript(req);
};

/** `env` adds variables for every corral process, e.g. NODE_EXTRA_CA_CERTS for a test origin's CA. */
export async function createE2e(
  opts: {
    env?: Record<string, string>;
    /** run every corral command as this uid (see fixtures/as-user.ts) */ asUid?: number;
    /** what the stand-in model answers (default: e2eScript) */
    script?: Script;
  } = {},
): Promise<{
  home: string;
  env: Record<string, string>;
  argv: (args: string[]) => [string, string[]];
  modelUrl: string;
  requests: Awaited<ReturnType<typeof startModelServer>>['requests'];
  corral: (args: string[], input?: string) => Promise<CliResult>;
  /** Runs set-up commands in order; each must succeed. */
  setup: (steps: Step[]) => Promise<void>;
  db: () => Database.Database;
  close: () => Promise<void>;
}> {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'corral-e2e-'));
  const uid = opts.asUid;
  if (uid !== undefined) fs.chownSync(home, uid, uid);
  const asUser = uid === undefined ? undefined : corralAsUser(uid);
  const argv = (args: string[]): [string, string[]] =>
    asUser === undefined ? [process.execPath, [BIN, ...args]] : asUser.argv(args);
  const server = await startModelServer({ script: opts.script ?? e2eScript });
  const env = {
    PATH: process.env['PATH'] ?? '/usr/bin:/bin',
    CORRAL_HOME: home,
    HOME: home,
    // the base image the global setup built, not one per test home
    CORRAL_IMAGE_CACHE: testImageCache(),
    ...opts.env,
  };
  const corral = (args: string[], input?: string): Promise<CliResult> =>
    new Promise((resolve, reject) => {
      const [cmd, cmdArgs] = argv(args);
      const child = spawn(cmd, cmdArgs, {
        env,
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      const timer = setTimeout(() => child.kill('SIGKILL'), CLI_TIMEOUT_MS);
      child.on('error', reject);
      child.on('close', (code) => {
        clearTimeout(timer);
        resolve({ code, stdout, stderr });
      });
      child.stdin.end(input ?? '');
    });
  const setup = async (steps: Step[]): Promise<void> => {
    for (const [args, input] of steps) {
      const r = await corral(args, input);
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0);
    }
  };
  return {
    home,
    env,
    /** the command line that runs corral with `args` (as the chosen user) */
    argv,
    modelUrl: server.url,
    requests: server.requests,
    corral,
    setup,
    db: () => new Database(path.join(home, 'corral.db'), { readonly: true }),
    close: async () => {
      await server.close();
      asUser?.dispose();
      unmountUnder(home);
      fs.rmSync(home, { recursive: true, force: true });
    },
  };
}
