// The dry run judges URLs exactly as the gateway would, resolving only through an injected resolver.
import { describe, expect, it } from 'vitest';
import type { ResolvedAddress } from './destination.ts';
import { buildPolicy } from './egress.ts';
import { checkEgressUrl } from './egress-check.ts';

const names: Record<string, ResolvedAddress[]> = {
  'pypi.org': [{ address: '151.101.0.223', family: 4 }],
  'rebind.test': [{ address: '127.0.0.1', family: 4 }],
};
const deps = {
  resolve: (host: string): Promise<ResolvedAddress[]> => Promise.resolve(names[host] ?? []),
  localAddresses: () => [],
};

describe('checkEgressUrl', () => {
  it('allows through a preset and reports the address it would connect to', async () => {
    const r = await checkEgressUrl(buildPolicy('packages', []), 'https://pypi.org/simple/', deps);
    expect(r).toEqual({
      allow: true,
      request: { host: 'pypi.org', port: 443, method: 'CONNECT', path: '' },
      rule: 'preset:packages',
      address: '151.101.0.223',
    });
  });

  it.each([
    ['http://127.0.0.1/', /loopback/],
    ['http://169.254.169.254/latest/meta-data/', /metadata/],
    ['http://2130706433/', /loopback/],
    ['http://0177.0.0.1/', /loopback/],
    ['http://0x7f.1/', /loopback/],
    ['http://[::1]/', /loopback/],
    ['http://[::ffff:127.0.0.1]/', /loopback/],
    ['http://[fd00:ec2::254]/', /metadata/],
    ['http://100.100.100.200/', /metadata/],
    ['http://10.0.0.1/', /private/],
    ['http://rebind.test/', /rebind.test resolves to 127.0.0.1, a loopback/],
    ['ftp://pypi.org/', /only http and https/],
    ['not a url', /not a URL/],
  ])('denies %s', async (url, reason) => {
    const r = await checkEgressUrl(buildPolicy('web', []), url, deps);
    expect(r.allow).toBe(false);
    if (!r.allow) expect(r.reason).toMatch(reason);
  });

  it('judges plain HTTP with its method and path', async () => {
    const p = buildPolicy('none', ['GET 10.1.2.3/v1/*']);
    expect(await checkEgressUrl(p, 'http://10.1.2.3/v1/x', deps)).toMatchObject({
      allow: true,
      address: '10.1.2.3',
    });
    expect((await checkEgressUrl(p, 'http://10.1.2.3/v1/x', deps, 'post')).allow).toBe(false);
    expect((await checkEgressUrl(p, 'https://10.1.2.3/v1/x', deps)).allow).toBe(false);
  });
});
