// The start self-test, host side: before the first turn of every sandbox, the facts the runtime reported from
// inside (src/runtime/self-check.ts) are judged against what the host configured. Any failure stops the sandbox
// and the agent does not run: a boundary that silently does not hold is the worst failure corral can have.
import crypto from 'node:crypto';
import type { StartReport } from '../protocol/frames.ts';
import { ENV_GATEWAY_SOCKET } from '../protocol/sandbox-env.ts';
import { CorralError } from '../util/errors.ts';
import type { AppliedLimits, SandboxLimits } from './types.ts';

/** Device nodes a sandbox may have: the harmless character devices and its own pseudo-terminals. */
const ALLOWED_DEVICES = new Set(['null', 'zero', 'full', 'random', 'urandom', 'tty', 'ptmx', 'pts/ptmx']);

/** Variables a backend adds by itself (Docker: HOSTNAME, HOME), whose values the host did not choose. */
const BACKEND_VARIABLES = new Set(['HOSTNAME', 'HOME', 'PWD', 'SHLVL', 'OLDPWD', '_', 'container']);

/** Variables a backend may point elsewhere (Docker: each session's own gateway socket); the gateway check covers it. */
const REPOINTED = new Set([ENV_GATEWAY_SOCKET]);

export interface StartExpectations {
  env: Record<string, string>;
  limits: SandboxLimits;
  applied: AppliedLimits | undefined;
  /** devices the backend's own kernel emulates (SandboxBackend.ownDevices) */
  ownDevices?: readonly string[];
  /** values that must never be seen inside (model keys and other secrets the host holds) */
  secrets?: readonly string[];
}

const digest = (v: string): string => crypto.createHash('sha256').update(v).digest('hex').slice(0, 32);
const ZERO = /^0+$/;
const enforced = (how: string | undefined): boolean => how !== undefined && how !== 'none';

/** Compares a limit a cgroup file shows with the configured one ('max': no limit). */
function limitShown(shown: string | undefined, configured: number, slack: number): boolean {
  if (shown === undefined) return true; // this backend does not show its cgroup inside
  const n = Number(shown);
  return Number.isFinite(n) && n <= configured + slack;
}

export function judgeStartReport(report: StartReport | undefined, want: StartExpectations): string[] {
  if (report === undefined) return ['the runtime sent no self-test report'];
  const f = report.facts;
  const failures: string[] = [];
  if (f['gateway'] !== 'reachable') failures.push(`the gateway is not reachable (${f['gateway'] ?? '?'})`);
  if (f['nofile'] !== String(want.limits.maxOpenFiles))
    failures.push(`the open-file limit reads ${f['nofile'] ?? '?'}, configured ${want.limits.maxOpenFiles}`);
  const fsizeBy = want.applied?.maxFileBytes;
  if ((fsizeBy === 'rlimit' || fsizeBy === 'runtime') && f['fsize'] !== String(want.limits.maxFileBytes))
    failures.push(`the file size limit reads ${f['fsize'] ?? '?'}, configured ${want.limits.maxFileBytes}`);
  // cgroup v1 rounds the memory limit down to a page
  if (enforced(want.applied?.memoryBytes) && !limitShown(f['memcg'], want.limits.memoryBytes, 0))
    failures.push(`the memory limit reads ${f['memcg'] ?? '?'}, configured ${want.limits.memoryBytes}`);
  const pidsBy = want.applied?.maxProcesses;
  if (
    (pidsBy === 'cgroup-v1' || pidsBy === 'cgroup-v2') &&
    !limitShown(f['pidscg'], want.limits.maxProcesses, 0)
  )
    failures.push(`the process limit reads ${f['pidscg'] ?? '?'}, configured ${want.limits.maxProcesses}`);
  // the same for a VM: its init gives the agent the minimal /dev, read-only /proc/sys and no capability either
  const devices = (f['devices'] ?? '').split(',').filter((d) => d !== '');
  const own = new Set(want.ownDevices ?? []);
  if (f['devices'] === undefined) failures.push('the device list is missing');
  else {
    const extra = devices.filter((d) => !ALLOWED_DEVICES.has(d) && !own.has(d) && !/^pts\/\d+$/.test(d));
    if (extra.length > 0) failures.push(`devices beyond the minimal set: ${extra.join(', ')}`);
  }
  if (f['procsys'] === 'writable') failures.push('/proc/sys is writable');
  if (!ZERO.test(f['capeff'] ?? ''))
    failures.push(`capabilities in the effective set (${f['capeff'] ?? '?'})`);
  if (!ZERO.test(f['capbnd'] ?? ''))
    failures.push(`capabilities in the bounding set (${f['capbnd'] ?? '?'})`);
  failures.push(...judgeEnv(report.env, want));
  return failures;
}

function judgeEnv(inside: Record<string, string>, want: StartExpectations): string[] {
  const failures: string[] = [];
  const secret = new Set((want.secrets ?? []).filter((s) => s !== '').map(digest));
  const leaked = Object.entries(inside)
    .filter(([, h]) => secret.has(h))
    .map(([k]) => k);
  if (leaked.length > 0) failures.push(`a secret value is in the environment: ${leaked.join(', ')}`);
  const unknown = Object.keys(inside).filter((k) => !(k in want.env) && !BACKEND_VARIABLES.has(k));
  if (unknown.length > 0)
    failures.push(`variables the host did not set are in the environment: ${unknown.sort().join(', ')}`);
  const changed = Object.entries(want.env)
    .filter(([k, v]) => inside[k] !== undefined && inside[k] !== digest(v) && !REPOINTED.has(k))
    .map(([k]) => k);
  if (changed.length > 0) failures.push(`variables changed on the way in: ${changed.join(', ')}`);
  return failures;
}

export function startCheckError(agent: string, backend: string, failures: string[]): CorralError {
  return new CorralError(
    'isolation_failed',
    `the ${backend} sandbox of agent ${agent} failed its start self-test: ${failures.join('; ')}`,
    'corral stopped it and will not run the agent there; see: corral doctor',
  );
}
