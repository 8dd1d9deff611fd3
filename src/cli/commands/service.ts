// corral service install: a systemd user unit that runs `corral up` permanently (written, not enabled: the
// operator enables it). --print shows it instead.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { CorralError } from '../../util/errors.ts';
import { parseDuration } from '../../util/duration.ts';
import type { CliContext } from '../context.ts';
import { DEFAULT_LISTEN, DEFAULT_PORT } from './up.ts';

const BIN = fileURLToPath(new URL('../../../bin/corral.js', import.meta.url));
export const UNIT_NAME = 'corral.service';

/** One argument of a systemd command line, quoted so spaces, quotes, `$` and `%` stay literal. */
function quoteArg(arg: string): string {
  return `"${arg.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\$/g, '$$$$').replace(/%/g, '%%')}"`;
}

export function serviceUnit(o: {
  node: string;
  bin: string;
  home: string;
  port: number;
  listen: string;
  graceMs: number;
}): string {
  const exec = [
    o.node,
    o.bin,
    'up',
    '--port',
    String(o.port),
    '--listen',
    o.listen,
    '--grace',
    `${Math.ceil(o.graceMs / 1000)}s`,
  ];
  // systemd waits a little longer than the drain before it kills what is left
  const stopSeconds = Math.ceil(o.graceMs / 1000) + 30;
  return [
    '[Unit]',
    'Description=corral: bounded AI agents (corral up)',
    'After=network-online.target',
    'Wants=network-online.target',
    '',
    '[Service]',
    'Type=simple',
    `Environment=${quoteArg(`CORRAL_HOME=${o.home}`)}`,
    `ExecStart=${exec.map(quoteArg).join(' ')}`,
    'KillSignal=SIGTERM',
    'KillMode=mixed',
    `TimeoutStopSec=${stopSeconds}`,
    'Restart=on-failure',
    'RestartSec=5',
    '',
    '[Install]',
    'WantedBy=default.target',
    '',
  ].join('\n');
}

export function userUnitDir(env: NodeJS.ProcessEnv = process.env): string {
  const config = env['XDG_CONFIG_HOME'];
  const base =
    config !== undefined && config !== '' ? config : path.join(env['HOME'] ?? os.homedir(), '.config');
  return path.join(base, 'systemd', 'user');
}

export function registerService(program: Command, ctx: CliContext): void {
  const service = program.command('service').description('run corral up as a systemd user service');
  service
    .command('install')
    .description(
      `write ~/.config/systemd/user/${UNIT_NAME} (not enabled; the command to enable it is printed)`,
    )
    .option('--port <n>', 'HTTP API port', String(DEFAULT_PORT))
    .option('--listen <address>', 'address the API listens on', DEFAULT_LISTEN)
    .option('--grace <duration>', 'how long running turns may take to finish on stop', '30s')
    .option('--force', 'replace an existing unit file')
    .option('--print', 'print the unit instead of writing it')
    .action((opts: { port: string; listen: string; grace: string; force?: boolean; print?: boolean }) => {
      const port = Number(opts.port);
      if (!Number.isInteger(port) || port < 1 || port > 65_535)
        throw new CorralError('invalid_argument', `--port ${opts.port} is not a port number`);
      const unit = serviceUnit({
        node: process.execPath,
        bin: BIN,
        home: ctx.home.root,
        port,
        listen: opts.listen,
        graceMs: parseDuration(opts.grace, '--grace'),
      });
      if (opts.print === true) return void ctx.out(unit);
      const dir = userUnitDir();
      const file = path.join(dir, UNIT_NAME);
      if (fs.existsSync(file) && opts.force !== true)
        throw new CorralError('unit_exists', `${file} already exists`, 'replace it with --force');
      fs.mkdirSync(dir, { recursive: true });
      fs.writeFileSync(file, unit, { mode: 0o644 });
      ctx.err(
        `wrote ${file}\nenable and start it with:\n  systemctl --user daemon-reload && systemctl --user enable --now corral\n` +
          `(to keep it running after you log out: loginctl enable-linger $USER)\n`,
      );
    });
}
