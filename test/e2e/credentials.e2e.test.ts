// Credentials end to end through the CLI: a granted secret is a sentinel inside a real sandbox (never the
// value), the gateway's CA is trusted there, and grants and bindings are managed by `agent set`/`secret set`.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createE2e, hasBwrap } from './harness.ts';

const VALUE = 'ghp_e2e-REAL-VALUE-31c4';

describe.skipIf(!hasBwrap)('credentials (bwrap)', () => {
  let e: Awaited<ReturnType<typeof createE2e>>;

  beforeAll(async () => {
    e = await createE2e();
    const steps: [string[], string?][] = [
      [['init']],
      [['provider', 'add', 'stand', '--kind', 'anthropic', '--base-url', e.modelUrl, '--key-secret', 'K']],
      [['secret', 'set', 'K'], 'sk-model'],
      [
        ['secret', 'set', 'GH_TOKEN', '--host', 'api.github.test', '--header', 'Authorization: Bearer {}'],
        VALUE,
      ],
      [['agent', 'add', 'alpha', '--model', 'stand:m', '--grant', 'GH_TOKEN']],
    ];
    for (const [args, input] of steps) {
      const r = await e.corral(args, input);
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0);
    }
  });
  afterAll(async () => e?.close());

  it('init made a CA: key 0600 on the host, certificate public', () => {
    expect(fs.statSync(path.join(e.home, 'ca.key')).mode & 0o777).toBe(0o600);
    expect(fs.readFileSync(path.join(e.home, 'ca.crt'), 'utf8')).toContain('BEGIN CERTIFICATE');
  });

  it('lists bindings, never values', async () => {
    const r = await e.corral(['secret', 'list', '--json']);
    expect(r.stdout).toContain('api.github.test');
    expect(r.stdout).toContain('Authorization: Bearer {}');
    expect(r.stdout + r.stderr).not.toContain(VALUE);
    const bad = await e.corral(['secret', 'set', 'X', '--host', '*.com'], 'v');
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('too broad');
  });

  it('a tool sees the sentinel and the CA variables, the sandbox trusts the CA, and no value is inside', async () => {
    const ca = fs.readFileSync(path.join(e.home, 'ca.crt'), 'utf8').split('\n')[1] ?? '';
    const hex = [...Buffer.from(VALUE)].map((b) => `\\x${b.toString(16).padStart(2, '0')}`).join('');
    const r = await e.corral([
      'run',
      'alpha',
      `bash: echo "gh=$GH_TOKEN ca=$NODE_EXTRA_CA_CERTS,$SSL_CERT_FILE,$CURL_CA_BUNDLE,$REQUESTS_CA_BUNDLE,$GIT_SSL_CAINFO"; ` +
        `grep -c '${ca}' /etc/ssl/certs/ca-certificates.crt; ls /etc/ssl/certs/ca-certificates.crt >/dev/null && echo bundle; ` +
        `printf '${hex}' > /tmp/.p; grep -rlsF -f /tmp/.p --exclude=.p /proc/[0-9]*/environ /workspace /tmp /root /opt /run /etc | wc -l`,
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/gh=corral-sentinel-[0-9a-f]{40} /);
    expect(r.stdout).toContain(`ca=${Array(5).fill('/etc/ssl/certs/ca-certificates.crt').join(',')}`);
    expect(r.stdout).toMatch(/\n1\nbundle\n0/);
    expect(r.stdout).not.toContain(VALUE);
  });

  it('the sentinel is stable across sandboxes; revoking removes it from the next sandbox', async () => {
    const first = await e.corral(['run', 'alpha', 'bash: echo "gh=$GH_TOKEN"']);
    const again = await e.corral(['run', 'alpha', 'bash: echo "gh=$GH_TOKEN"']);
    const sentinel = /gh=(corral-sentinel-[0-9a-f]+)/.exec(first.stdout)?.[1];
    expect(sentinel).toBeDefined();
    expect(again.stdout).toContain(`gh=${sentinel}`);
    const revoke = await e.corral(['agent', 'set', 'alpha', '--revoke', 'GH_TOKEN']);
    expect(revoke.code, revoke.stderr).toBe(0);
    const after = await e.corral(['run', 'alpha', 'bash: echo "gh=[$GH_TOKEN]"']);
    expect(after.stdout).toContain('gh=[]');
    const audit = await e.corral(['audit', 'list', '--json']);
    expect(audit.stdout).toContain('agent.revoke');
    expect(audit.stdout).not.toContain(VALUE);
  });
});
