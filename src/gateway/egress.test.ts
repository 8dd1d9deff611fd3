// Proxy targets parse to host, port and path or are refused as malformed.
import { describe, expect, it } from 'vitest';
import { authority, denyText, proxyTarget } from './egress.ts';

describe('proxyTarget', () => {
  it('parses absolute-form requests with default and explicit ports', () => {
    expect(proxyTarget('GET', 'http://Example.COM/a/b?q=1')).toEqual({
      host: 'example.com',
      port: 80,
      method: 'GET',
      path: '/a/b',
    });
    expect(proxyTarget('POST', 'https://example.com:8443/')).toMatchObject({ port: 8443 });
  });

  it('parses CONNECT authority-form, default ports included', () => {
    expect(proxyTarget('CONNECT', 'pypi.org:443')).toEqual({
      host: 'pypi.org',
      port: 443,
      method: 'CONNECT',
      path: '',
    });
    expect(proxyTarget('CONNECT', 'example.com:80')).toMatchObject({ port: 80 });
    expect(proxyTarget('CONNECT', '[::1]:22')).toMatchObject({ host: '[::1]', port: 22 });
  });

  it('refuses malformed targets', () => {
    for (const bad of ['pypi.org', 'pypi.org:0', 'pypi.org:70000', 'user@host:443', 'host:443/path', ''])
      expect(proxyTarget('CONNECT', bad)).toBeUndefined();
    expect(proxyTarget('GET', 'ftp://example.com/')).toBeUndefined();
    expect(proxyTarget('GET', 'not a url')).toBeUndefined();
  });
});

describe('refusal text', () => {
  it('names the destination and the reason', () => {
    expect(denyText(authority('pypi.org', 443), 'no allow rule matches')).toBe(
      'corral gateway: egress to pypi.org:443 denied: no allow rule matches\n',
    );
    expect(authority('::1', 80)).toBe('[::1]:80');
    expect(authority('[::1]', 80)).toBe('[::1]:80');
  });
});
