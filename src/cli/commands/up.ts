// corral up: the host in the foreground. Logs are JSON lines on stderr; Ctrl-C or SIGTERM drains (a second one
// cancels running turns at once).
import type { Command } from 'commander';
import { startDaemon } from '../../host/daemon/daemon.ts';
import { claimHome } from '../../host/daemon/pidfile.ts';
import { CorralError } from '../../util/errors.ts';
import { formatDuration, parseDuration } from '../../util/duration.ts';
import { createLogger, logLevelFrom } from '../../util/log.ts';
import { startApiServer } from '../../web/server.ts';
import { approvalRoutes } from '../../web/approvals.ts';
import { taskRoutes } from '../../web/tasks.ts';
import { loadOrCreateApiToken, apiTokenFile } from '../../web/token.ts';
import { createDashboard } from '../../web/dashboard/dashboard.ts';
import { authenticate } from '../../web/auth.ts';
import type { CliContext } from '../context.ts';

export const DEFAULT_PORT = 7070;
export const DEFAULT_LISTEN = '127.0.0.1';

interface UpOptions {
  port: string;
  listen: string;
  maxSandboxes?: string;
  maxPerAgent?: string;
  idleTimeout: string;
  grace: string;
}

function positiveInt(text: string | undefined, flag: string): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1)
    throw new CorralError('invalid_argument', `${flag} must be a whole number above 0`);
  return n;
}

export function registerUp(program: Command, ctx: CliContext): void {
  program
    .command('up')
    .description('run the host: agents, queues, schedules and the HTTP API, until Ctrl-C or SIGTERM')
    .option('--port <n>', 'HTTP API port', String(DEFAULT_PORT))
    .option(
      '--listen <address>',
      'address the API listens on (anything but loopback exposes it)',
      DEFAULT_LISTEN,
    )
    .option('--max-sandboxes <n>', 'sandboxes alive at once (default: sized from memory)')
    .option('--max-per-agent <n>', 'sandboxes one agent may hold at once')
    .option('--idle-timeout <duration>', 'stop a session’s warm sandbox after this long unused', '5m')
    .option('--grace <duration>', 'on stop, how long running turns may take to finish', '30s')
    .action(async (opts: UpOptions) => {
      const log = createLogger({ level: logLevelFrom(process.env['CORRAL_LOG'], 'info') });
      const port = Number(opts.port);
      if (!Number.isInteger(port) || port < 0 || port > 65_535)
        throw new CorralError('invalid_argument', `--port ${opts.port} is not a port number`);
      const graceMs = parseDuration(opts.grace, '--grace');
      const claim = claimHome(ctx.home, new Date());
      try {
        const token = loadOrCreateApiToken(ctx.home);
        const maxSandboxes = positiveInt(opts.maxSandboxes, '--max-sandboxes');
        const maxPerAgent = positiveInt(opts.maxPerAgent, '--max-per-agent');
        const daemon = await startDaemon({
          home: ctx.home,
          log,
          idleMs: parseDuration(opts.idleTimeout, '--idle-timeout'),
          ...(maxSandboxes === undefined ? {} : { maxSandboxes }),
          ...(maxPerAgent === undefined ? {} : { maxPerAgent }),
        });
        let api;
        try {
          api = await startApiServer({
            host: opts.listen,
            port,
            token,
            policy: daemon.gov.policy,
            log,
            messages: daemon.messages,
            intake: daemon.intake,
            events: daemon.events,
            metrics: daemon.metrics,
            extraRoutes: [
              ...approvalRoutes({ approvals: daemon.gov.approvals }),
              ...taskRoutes({
                tasks: { store: daemon.store, gov: daemon.gov, now: () => daemon.clock.now() },
                agent: (name) => daemon.catalog.get(name),
                refresh: () => daemon.scheduler.refresh(),
              }),
            ],
            dashboard: createDashboard({
              ...daemon,
              home: ctx.home,
              log,
              governance: daemon.gov,
              authenticate: (given) =>
                authenticate(`Bearer ${given}`, { apiToken: token, policy: daemon.gov.policy }),
            }),
            channelWebhook: (kind, name, req, res) => daemon.channels.handleWebhook(kind, name, req, res),
            health: () => ({
              status: daemon.draining() ? 'draining' : 'ok',
              agents: daemon.catalog.names().length,
              running: daemon.router.running(),
              sandboxes: daemon.pool.stats(),
              limits: daemon.limits,
            }),
          });
        } catch (err) {
          await daemon.stop(0);
          throw err;
        }
        claim.setUrl(api.url);
        log.info('listening', { url: api.url });
        ctx.err(
          `corral is up at ${api.url} (token: ${apiTokenFile(ctx.home)}; dashboard: ${api.url}/ui/)\n` +
            `  curl -H "Authorization: Bearer $(cat ${apiTokenFile(ctx.home)})" -H 'content-type: application/json' \\\n` +
            `    -d '{"text":"hello"}' ${api.url}/v1/agents/AGENT/messages\n` +
            `  corral logs -f        Ctrl-C stops (running turns get ${formatDuration(graceMs)})\n`,
        );
        await new Promise<void>((resolve) => {
          let signals = 0;
          const onSignal = (signal: NodeJS.Signals): void => {
            signals++;
            if (signals > 1) {
              log.warn('stopping now: cancelling running turns', { signal });
              return daemon.hurry();
            }
            log.info('stopping', { signal });
            void daemon
              .stop(graceMs)
              .then(() => api.close())
              .finally(() => {
                process.off('SIGINT', onSignal);
                process.off('SIGTERM', onSignal);
                resolve();
              });
          };
          process.on('SIGINT', onSignal);
          process.on('SIGTERM', onSignal);
        });
      } finally {
        claim.release();
      }
    });
}
