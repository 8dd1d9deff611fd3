// Starts a real sandbox and checks from inside that the boundary holds; a backend that fails is not used.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SANDBOX_WORKSPACE } from '../protocol/sandbox-env.ts';
import type { HostIds, SandboxBackend } from './types.ts';
import { DEFAULT_LIMITS } from './types.ts';

const SELF_TEST_TIMEOUT_MS = 15_000;

/** Each line prints `name=value`; the host judges the values, so a sandbox cannot just print "ok". */
const PROBE_SCRIPT = [
  'echo "uid=$(id -u)"',
  'echo "capeff=$(grep CapEff /proc/self/status | cut -f2)"',
  // gVisor's /proc/self/status has no NoNewPrivs line; setpriv asks the kernel (prctl) instead
  'v=$(grep NoNewPrivs /proc/self/status | cut -f2); [ -n "$v" ] || v=$(setpriv --dump 2>/dev/null | sed -n "s/^no_new_privs: //p"); echo "nonewprivs=$v"',
  'echo "netdevs=$(tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d " " | sort | tr "\\n" ",")"',
  'if touch /usr/.corral-probe 2>/dev/null; then echo usr=writable; else echo usr=readonly; fi',
  `if echo x > ${SANDBOX_WORKSPACE}/.corral-probe 2>/dev/null; then echo workspace=writable; else echo workspace=readonly; fi`,
  'if touch /tmp/.corral-probe 2>/dev/null; then echo tmp=writable; else echo tmp=readonly; fi',
  'if [ -e /etc/shadow ]; then echo shadow=visible; else echo shadow=absent; fi',
  'if [ -e /home ] || [ -e /var/lib ]; then echo hostdirs=visible; else echo hostdirs=absent; fi',
  // on a base image: / must not be the host's root directory (a bind keeps its device and inode numbers)
  'echo "rootid=$(stat -c %d:%i /)"',
  'echo "homeentries=$(ls -A /home 2>/dev/null | wc -l)"',
  // a VM's kernel has a boot id of its own; a container shares the host's
  'echo "bootid=$(cat /proc/sys/kernel/random/boot_id)"',
].join('\n');

/** legacy: the host's /usr read-only, nothing persists; image: / is the agent's own layer over the base image */
export type SandboxLayout = 'legacy' | 'image';

export interface SelfTestResult {
  ok: boolean;
  failures: string[];
  facts: Record<string, string>;
}

export function judge(
  facts: Record<string, string>,
  hostIds: HostIds | undefined,
  callerUid: number,
  layout: SandboxLayout = 'legacy',
  /** the backend runs its own kernel (SandboxBackend.ownKernel): that is checked too */
  ownKernel = false,
): string[] {
  const failures: string[] = [];
  // The owner on the host of a file root created inside is the real test of 'root inside is not root
  // outside' (uid_map alone can mislead: bwrap may nest a second user namespace that maps 0 to 0).
  const expectedOutside = String(hostIds?.uid ?? callerUid);
  if (facts['uid'] !== '0')
    failures.push(`the agent should be root inside; it is uid ${facts['uid'] ?? '?'}`);
  if (facts['fileowner'] !== expectedOutside) {
    failures.push(
      `files root creates inside should belong to uid ${expectedOutside} outside; they belong to ${facts['fileowner'] ?? '?'}`,
    );
  }
  if (facts['fileowner'] === '0') failures.push('root inside is host root');
  if (ownKernel && (!/^[0-9a-f-]{36}$/.test(facts['bootid'] ?? '') || facts['bootid'] === hostBootId()))
    failures.push("the sandbox runs on the host's kernel, not a kernel of its own");
  // a VM's init drops them as well: root of its own kernel is still root without capabilities
  if (!/^0+$/.test(facts['capeff'] ?? ''))
    failures.push(`capabilities not dropped (CapEff ${facts['capeff'] ?? '?'})`);
  if (facts['nonewprivs'] !== '1') failures.push('no_new_privs is not set');
  if (facts['netdevs'] !== 'lo,')
    failures.push(`network interfaces besides loopback: ${facts['netdevs'] ?? '?'}`);
  if (facts['workspace'] !== 'writable') failures.push('the workspace is not writable');
  if (facts['tmp'] !== 'writable') failures.push('/tmp is not writable');
  return [...failures, ...(layout === 'legacy' ? judgeLegacy(facts) : judgeImage(facts))];
}

function hostBootId(): string | undefined {
  try {
    return fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return undefined;
  }
}

function judgeLegacy(facts: Record<string, string>): string[] {
  const failures: string[] = [];
  if (facts['usr'] !== 'readonly') failures.push('/usr is writable');
  if (facts['shadow'] !== 'absent') failures.push('/etc/shadow is visible');
  if (facts['hostdirs'] !== 'absent') failures.push('host directories (/home, /var/lib) are visible');
  return failures;
}

/** The image's own /etc/shadow and /var/lib are the agent's to see; the host's files are not. */
function judgeImage(facts: Record<string, string>): string[] {
  const failures: string[] = [];
  if (facts['usr'] !== 'writable')
    failures.push("the agent's environment (/usr of its layer) is not writable");
  const host = fs.statSync('/');
  if (facts['rootid'] === undefined || facts['rootid'] === `${host.dev}:${host.ino}`)
    failures.push("the sandbox's / is the host's root directory");
  if (facts['homeentries'] !== '0') failures.push('/home has entries: host home directories may be visible');
  return failures;
}

export async function selfTest(
  backend: SandboxBackend,
  opts: {
    hostIds: HostIds | undefined;
    scratchDir?: string;
    /** run the probe on this base image, in a fresh layer (removed afterwards) */
    image?: { dir: string; id: string };
  },
): Promise<SelfTestResult> {
  const root = fs.mkdtempSync(path.join(opts.scratchDir ?? os.tmpdir(), 'corral-selftest-'));
  const layout: SandboxLayout = opts.image === undefined ? 'legacy' : 'image';
  try {
    fs.chmodSync(root, 0o711);
    const dirs = ['workspace', 'runtime', 'gw', 'etc'].map((d) => path.join(root, d));
    for (const d of dirs) fs.mkdirSync(d, { mode: 0o755 });
    const [workspaceDir = '', runtimeDir = '', gatewayDir = '', etcDir = ''] = dirs;
    if (opts.hostIds !== undefined) fs.chownSync(workspaceDir, opts.hostIds.uid, opts.hostIds.gid);
    const sandbox = await backend.start({
      sandboxId: `selftest-${path.basename(root)}`,
      agent: 'selftest',
      runDir: root,
      workspaceDir,
      runtimeDir,
      gatewayDir,
      etcDir,
      ...(opts.image && {
        root: { imageDir: opts.image.dir, imageId: opts.image.id, layerDir: path.join(root, 'layer') },
      }),
      hostIds: opts.hostIds,
      env: { PATH: '/usr/bin:/bin' },
      limits: DEFAULT_LIMITS,
      extraReadOnly: [],
      command: ['/bin/sh', '-c', PROBE_SCRIPT],
    });
    let out = '';
    let errText = '';
    sandbox.stdout.on('data', (c: Buffer) => (out += c.toString('utf8')));
    sandbox.stderr.on('data', (c: Buffer) => (errText = (errText + c.toString('utf8')).slice(-2000)));
    const timer = setTimeout(
      () => void sandbox.stop(),
      SELF_TEST_TIMEOUT_MS + (backend.bootAllowanceMs?.() ?? 0),
    );
    const exit = await sandbox.exited;
    clearTimeout(timer);
    const facts: Record<string, string> = {};
    try {
      facts['fileowner'] = String(fs.lstatSync(path.join(workspaceDir, '.corral-probe')).uid);
    } catch {
      // no file: the judge reports the workspace as not writable and the owner as unknown
    }
    for (const line of out.split('\n')) {
      const i = line.indexOf('=');
      if (i > 0) facts[line.slice(0, i)] = line.slice(i + 1);
    }
    const failures =
      exit.code === 0
        ? judge(facts, opts.hostIds, process.getuid?.() ?? -1, layout, backend.ownKernel === true)
        : [`the probe sandbox exited with ${String(exit.code ?? exit.signal)}: ${errText.trim()}`];
    return { ok: failures.length === 0, failures, facts };
  } finally {
    // a backend may keep layer state outside the directory (Docker: the agent's container): drop it too
    if (opts.image !== undefined)
      await backend.resetLayer?.('selftest', path.join(root, 'layer')).catch(() => undefined);
    fs.rmSync(root, { recursive: true, force: true });
  }
}
