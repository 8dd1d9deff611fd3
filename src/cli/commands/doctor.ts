// corral doctor: what works on this machine, what is missing, and the one command that fixes each.
import fs from 'node:fs';
import type { Command } from 'commander';
import { loadConfig } from '../../config/config-file.ts';
import { agentHostIds } from '../../host/agent-dirs.ts';
import { openHost, openStore } from '../../host/open.ts';
import { createBwrapBackend } from '../../sandbox/bwrap/backend.ts';
import { ensureRuntimeBundle } from '../../sandbox/runtime-bundle.ts';
import { selfTest } from '../../sandbox/self-test.ts';
import { diskQuotaSupport } from '../../host/agent-volume.ts';
import type { AppliedLimits, LimitMechanism, SandboxBackend, SandboxLimits } from '../../sandbox/types.ts';
import { errorMessage } from '../../util/errors.ts';
import type { CliContext } from '../context.ts';
import { layerAvailability } from '../../sandbox/layer/available.ts';
import { imageCheck } from './doctor-image.ts';
import { channelChecks } from './doctor-channels.ts';

export interface Check {
  name: string;
  ok: boolean;
  detail: string;
  fix?: string;
}

const MIN_NODE_MAJOR = 20;

async function attempt(name: string, fn: () => Promise<string> | string, fix: string): Promise<Check> {
  try {
    return { name, ok: true, detail: await fn() };
  } catch (err) {
    return { name, ok: false, detail: errorMessage(err), fix };
  }
}

export async function runChecks(ctx: CliContext): Promise<Check[]> {
  const checks: Check[] = [];
  const major = Number(process.versions.node.split('.')[0]);
  checks.push({
    name: 'node',
    ok: major >= MIN_NODE_MAJOR,
    detail: `v${process.versions.node}`,
    ...(major >= MIN_NODE_MAJOR ? {} : { fix: `install Node ${MIN_NODE_MAJOR} or newer` }),
  });
  const initialised = fs.existsSync(ctx.home.configFile);
  checks.push(await attempt('home', () => (loadConfig(ctx.home), ctx.home.root), 'run: corral init'));
  if (initialised) {
    checks.push(
      await attempt(
        'store',
        () => {
          const store = openStore(ctx.home);
          try {
            const v = store.verifyAudit();
            if (!v.ok) throw new Error(`audit chain broken at entry ${v.brokenAt}: ${v.reason}`);
            return `${ctx.home.dbFile} (audit chain intact, ${v.count} entries)`;
          } finally {
            store.close();
          }
        },
        'restore corral.db from a backup; the audit trail was altered',
      ),
    );
    checks.push(...providerChecks(ctx));
    checks.push(...channelChecks(ctx));
  }
  const backend = createBwrapBackend({ log: ctx.log });
  const probe = await backend.probe();
  checks.push(
    probe.ok
      ? { name: 'sandbox bwrap', ok: true, detail: probe.detail }
      : { name: 'sandbox bwrap', ok: false, detail: probe.reason, fix: probe.fix },
  );
  if (probe.ok) checks.push(...(await limitChecks(backend)));
  if (probe.ok) {
    const ids = agentHostIds(0, process.getuid?.() === 0);
    const r = await selfTest(backend, { hostIds: ids });
    checks.push({
      name: 'isolation self-test',
      ok: r.ok,
      detail: r.ok
        ? `root inside = uid ${r.facts['fileowner'] ?? '?'} outside; no network but loopback; no capabilities`
        : r.failures.join('; '),
      ...(r.ok
        ? {}
        : { fix: 'do not run agents on this host until this passes; report it with: corral doctor --json' }),
    });
  }
  if (initialised) checks.push(...(await otherBackends(ctx)));
  checks.push(imageCheck(ctx.home.imagesDir));
  // informational: without layers agents still run, on the legacy layout (host /usr, nothing persists)
  const layers = layerAvailability(process.getuid?.() === 0);
  checks.push({
    name: 'agent environments',
    ok: true,
    detail: layers.ok
      ? `${layers.detail}: installed packages and /etc persist per agent`
      : `legacy layout (nothing outside the workspace persists): ${layers.reason}; fix: ${layers.fix}`,
  });
  checks.push(
    await attempt('runtime bundle', async () => ensureRuntimeBundle(ctx.home.cacheDir), 'reinstall: npm ci'),
  );
  return checks;
}

/** Every other registered backend: available (and how), or why not and how to fix it. Informational: bwrap is the default. */
async function otherBackends(ctx: CliContext): Promise<Check[]> {
  const opened = openHost(ctx.home, ctx.log);
  try {
    const out: Check[] = [];
    for (const backend of opened.sandboxes.list()) {
      if (backend.name === 'bwrap') continue;
      const probe = await backend.probe();
      out.push({
        name: `sandbox ${backend.name}`,
        ok: true,
        detail: probe.ok ? `available: ${probe.detail}` : `unavailable: ${probe.reason}; fix: ${probe.fix}`,
      });
      if (probe.ok) out.push(...(await limitChecks(backend)));
    }
    return out;
  } catch (err) {
    return [{ name: 'other sandbox backends', ok: true, detail: `not probed: ${errorMessage(err)}` }];
  } finally {
    await opened.close();
  }
}

const MECHANISM: Record<LimitMechanism, string> = {
  'cgroup-v1': 'cgroup v1',
  'cgroup-v2': 'cgroup v2',
  rlimit: 'rlimit',
  runtime: 'the runtime',
  quota: 'a volume of its size',
  none: 'not enforced',
};
const LIMIT_NAMES: Record<keyof SandboxLimits, string> = {
  memoryBytes: 'memory',
  cpus: 'cpu',
  maxProcesses: 'processes',
  maxOpenFiles: 'open files',
  maxFileBytes: 'file size',
  diskBytes: 'disk',
};

const LIMIT_ORDER: (keyof SandboxLimits)[] = [
  'memoryBytes',
  'cpus',
  'maxProcesses',
  'maxOpenFiles',
  'maxFileBytes',
  'diskBytes',
];

/** One line per limit: the mechanism that keeps it on this backend here, and why it is weaker or different. */
export async function limitChecks(backend: SandboxBackend): Promise<Check[]> {
  if (backend.limitMechanisms === undefined) return [];
  let applied: AppliedLimits;
  try {
    applied = await backend.limitMechanisms(diskQuotaSupport(process.getuid?.() === 0).mechanism === 'quota');
  } catch (err) {
    return [{ name: `limits ${backend.name}`, ok: true, detail: `not known: ${errorMessage(err)}` }];
  }
  const notes = backend.limitNotes?.() ?? {};
  const vm = backend.ownKernel === true;
  const mechanism = (limit: keyof SandboxLimits, how: LimitMechanism): string => {
    if (vm && limit === 'cpus') return "the VM's vCPUs";
    const inside = vm && how !== 'none' && limit !== 'diskBytes' ? ' inside the VM' : '';
    return `${MECHANISM[how]}${inside}`;
  };
  return LIMIT_ORDER.map((limit) => {
    const how = applied[limit];
    const note = notes[limit];
    return {
      name: `limit ${backend.name} ${LIMIT_NAMES[limit]}`,
      // informational: a weaker mechanism is explained, not a failure (a missing one on bwrap fails its own check)
      ok: true,
      detail: `${mechanism(limit, how)}${note === undefined ? '' : ` (${note})`}`,
    };
  });
}

function providerChecks(ctx: CliContext): Check[] {
  let names: Set<string>;
  const store = openStore(ctx.home);
  try {
    names = new Set(store.listSecrets().map((s) => s.name));
  } finally {
    store.close();
  }
  return Object.entries(loadConfig(ctx.home).providers).map(([name, p]) => {
    const has = names.has(p.keySecret);
    return {
      name: `provider ${name}`,
      ok: has,
      detail: has
        ? `${p.baseUrl} (key ${p.keySecret} set)`
        : `${p.baseUrl}: secret ${p.keySecret} is not set`,
      ...(has ? {} : { fix: `printf %s "$KEY" | corral secret set ${p.keySecret}` }),
    };
  });
}

export function registerDoctor(program: Command, ctx: CliContext): void {
  program
    .command('doctor')
    .description('check this machine and this corral home; explain how to fix what is wrong')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }) => {
      const checks = await runChecks(ctx);
      if (opts.json === true) ctx.out(JSON.stringify(checks, null, 2) + '\n');
      else {
        for (const c of checks) {
          ctx.out(`${c.ok ? '✓' : '✗'} ${c.name}: ${c.detail}\n`);
          if (c.fix !== undefined) ctx.out(`    fix: ${c.fix}\n`);
        }
      }
      // A provider without a key is normal (most people use one provider); everything else must pass.
      const blocking = checks.filter((c) => !c.ok && !c.name.startsWith('provider '));
      if (blocking.length > 0) process.exitCode = 1;
    });
}
