// The default backend: bubblewrap namespaces, no daemon. Each sandbox is one bwrap process tree.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { CorralError } from '../../util/errors.ts';
import type { Logger } from '../../util/log.ts';
import type { Sandbox, SandboxBackend, SandboxExit, SandboxSpec } from '../types.ts';
import { bwrapArgv, etcFiles } from './argv.ts';
import { probeBwrap } from './probe.ts';

const STOP_GRACE_MS = 2_000;

function writeEtc(dir: string): void {
  fs.mkdirSync(dir, { recursive: true, mode: 0o755 });
  for (const [name, content] of Object.entries(etcFiles())) {
    fs.writeFileSync(path.join(dir, name), content, { mode: 0o644 });
  }
}

export function createBwrapBackend(deps: { log: Logger; isRoot?: boolean }): SandboxBackend {
  const isRoot = deps.isRoot ?? process.getuid?.() === 0;
  return {
    name: 'bwrap',
    probe: () => Promise.resolve(probeBwrap(isRoot)),
    start: (spec) => Promise.resolve(startBwrap(spec, isRoot, deps.log)),
  };
}

function startBwrap(spec: SandboxSpec, isRoot: boolean, log: Logger): Sandbox {
  if (isRoot && spec.hostIds === undefined) {
    // Fail closed: as root without a uid of its own the agent would be host root.
    throw new CorralError(
      'sandbox_root_without_uid',
      'refusing to start a sandbox as host root without an agent uid',
    );
  }
  writeEtc(spec.etcDir);
  const [cmd, ...args] = bwrapArgv(spec, { exists: (p) => fs.existsSync(p) });
  if (cmd === undefined) throw new CorralError('sandbox_argv', 'empty sandbox command');
  const child = spawn(cmd, args, { env: spec.env, stdio: ['pipe', 'pipe', 'pipe'] });
  log.debug('sandbox started', { sandbox: spec.sandboxId, pid: child.pid, argv: [cmd, ...args].join(' ') });
  const exited = new Promise<SandboxExit>((resolve) => {
    child.once('error', () => resolve({ code: null, signal: null }));
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.stdin.end();
      const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
      child.kill('SIGTERM');
      await exited;
      clearTimeout(timer);
    })();
    return stopping;
  };
  return { id: spec.sandboxId, stdin: child.stdin, stdout: child.stdout, stderr: child.stderr, exited, stop };
}
