// Egress end to end: curl inside a real sandbox reaches a private origin in a network namespace this test
// creates, only through an explicit IP:port rule; without it, and for loopback and private addresses, 403.
// Addresses outside this machine are only ever judged by `corral egress check` on IP literals (no traffic).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addProvider, createE2e, hasBwrap } from './harness.ts';
import { canCreateNetns, startNetnsOrigin } from './netns.ts';
import type { NetnsOrigin } from './netns.ts';

const ALLOWED_PORT = 8080;
const OTHER_PORT = 8081;
const WEB_PORT = 80;

describe.skipIf(!hasBwrap || !canCreateNetns)('egress through the gateway (bwrap, netns origin)', () => {
  let e: Awaited<ReturnType<typeof createE2e>>;
  let origin: NetnsOrigin;
  let rule: string;
  const curl = (agent: string, args: string): Promise<{ code: number | null; stdout: string }> =>
    e.corral(['run', agent, `bash: curl -sS -w "\\nstatus=%{http_code}\\n" ${args} 2>&1; true`]);

  beforeAll(async () => {
    origin = await startNetnsOrigin([ALLOWED_PORT, OTHER_PORT, WEB_PORT]);
    rule = `${origin.address}:${ALLOWED_PORT}`;
    e = await createE2e();
    await e.setup([
      [['init']],
      addProvider('stand', 'anthropic', e.modelUrl, 'K'),
      [['secret', 'set', 'K'], 'sk-model'],
      [['agent', 'add', 'ns', '--model', 'stand:m', '--allow', rule]],
      [['agent', 'add', 'webby', '--model', 'stand:m', '--egress', 'web']],
    ]);
  });
  afterAll(async () => {
    origin?.close();
    await e?.close();
  });

  it('reaches the private origin through an explicit IP:port rule, plain HTTP and CONNECT', async () => {
    const plain = await curl('ns', `http://${rule}/hello`);
    expect(plain.code).toBe(0);
    expect(plain.stdout).toContain('NETNS-ORIGIN GET /hello');
    expect(plain.stdout).toContain('status=200');
    const tunnel = await curl('ns', `--proxytunnel http://${rule}/tunnelled`);
    expect(tunnel.stdout).toContain('NETNS-ORIGIN GET /tunnelled');
    expect(origin.seen).toEqual(['GET /hello', 'GET /tunnelled']);
  });

  it('denies another port of the same address with a 403 naming the reason', async () => {
    const r = await curl('ns', `http://${origin.address}:${OTHER_PORT}/other`);
    expect(r.stdout).toContain(
      `corral gateway: egress to ${origin.address}:${OTHER_PORT} denied: no allow rule matches (egress preset none)`,
    );
    expect(r.stdout).toContain('status=403');
    expect(origin.seen).not.toContain('GET /other');
  });

  it('passes a redirect to a denied port back to curl, whose next request is judged anew', async () => {
    const r = await curl('ns', `-L http://${rule}/redirect-to/${OTHER_PORT}`);
    expect(r.stdout).toContain(`egress to ${origin.address}:${OTHER_PORT} denied`);
    expect(r.stdout).toContain('status=403');
    expect(origin.seen).toContain(`GET /redirect-to/${OTHER_PORT}`);
    expect(origin.seen).not.toContain('GET /landed');
  });

  it('denies private and loopback addresses even under the web preset, in every spelling', async () => {
    const before = origin.seen.length;
    const r = await e.corral([
      'run',
      'webby',
      `bash: for u in http://${origin.address}/ http://127.0.0.1/ http://2130706433/ "http://[::1]/" "http://[::ffff:127.0.0.1]/"; do curl -sS --noproxy "" -w " status=%{http_code}\\n" "$u"; done 2>&1; true`,
    ]);
    expect(r.stdout).toContain(
      `egress to ${origin.address}:80 denied: ${origin.address} is a private address (RFC 1918)`,
    );
    expect(r.stdout.match(/is a loopback address[^\n]*\n status=403/g), r.stdout).toHaveLength(4);
    expect(r.stdout).toContain('egress to [::1]:80 denied: [::1] is a loopback address');
    expect(origin.seen.length).toBe(before);
  });

  it('applies `agent set --disallow` to the next request', async () => {
    const set = await e.corral(['agent', 'set', 'ns', '--disallow', rule]);
    expect(set.code, set.stderr).toBe(0);
    const r = await curl('ns', `http://${rule}/after`);
    expect(r.stdout).toContain('status=403');
    expect(origin.seen).not.toContain('GET /after');
    const again = await e.corral(['agent', 'set', 'ns', '--allow', rule]);
    expect(again.code).toBe(0);
  });

  it('shows decisions in `corral egress log`', async () => {
    const r = await e.corral(['egress', 'log', 'ns', '--json']);
    expect(r.code).toBe(0);
    const rows: unknown = JSON.parse(r.stdout);
    expect(rows).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ agent: 'ns', decision: 'allow', destination: rule, why: rule }),
        expect.objectContaining({
          agent: 'ns',
          decision: 'deny',
          destination: `${origin.address}:${OTHER_PORT}`,
        }),
      ]),
    );
    const all = await e.corral(['egress', 'log', '--limit', '1000']);
    expect(all.stdout).toMatch(/webby\s+deny\s+127\.0\.0\.1:80/);
  });

  it.each([
    ['http://169.254.169.254/latest/meta-data/', /cloud metadata address/],
    ['http://[fd00:ec2::254]/', /cloud metadata address/],
    ['http://0177.0.0.1/', /loopback/],
    ['http://0x7f.1/', /loopback/],
    ['http://[::ffff:127.0.0.1]/', /loopback/],
    ['http://100.64.1.1/', /CGNAT/],
  ])('`corral egress check` denies %s without sending anything', async (url, reason) => {
    const r = await e.corral(['egress', 'check', 'webby', url]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(reason);
  });

  it('`corral egress check` allows the explicit rule', async () => {
    const r = await e.corral(['egress', 'check', 'ns', `http://${rule}/x`]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`allow: http://${rule}/x → ${rule} by rule ${rule}\n`);
  });
});
