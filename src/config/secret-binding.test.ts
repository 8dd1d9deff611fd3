// Host patterns and header templates for secret bindings: what is accepted, what is refused, what matches.
import { describe, expect, it } from 'vitest';
import { HeaderTemplate, matchesHost, parseHostPattern, renderHeader } from './secret-binding.ts';

function pattern(text: string) {
  const p = parseHostPattern(text);
  if (typeof p === 'string') throw new Error(p);
  return p;
}

describe('secret host patterns', () => {
  it('parses host, *.host and host:port', () => {
    expect(pattern('API.GitHub.com')).toEqual({ host: 'api.github.com', wildcard: false });
    expect(pattern('*.example.com')).toEqual({ host: 'example.com', wildcard: true });
    expect(pattern('example.com:8443')).toEqual({ host: 'example.com', wildcard: false, port: 8443 });
    expect(pattern('127.0.0.1:9000')).toEqual({ host: '127.0.0.1', wildcard: false, port: 9000 });
  });

  it('refuses nonsense and patterns too broad to hold a credential', () => {
    for (const bad of [
      '',
      '*',
      '*.com',
      'https://x.com',
      'x.com/path',
      'user@x.com',
      'x.com:0',
      'x.com:70000',
      'a..b',
      '*.1.2.3.4',
    ])
      expect(typeof parseHostPattern(bad), bad).toBe('string');
  });

  it('matches exact names, subdomains of a wildcard (not the apex), and ports', () => {
    expect(matchesHost(pattern('api.x.com'), 'api.x.com', 443)).toBe(true);
    expect(matchesHost(pattern('api.x.com'), 'API.X.COM.', 80)).toBe(true);
    expect(matchesHost(pattern('api.x.com'), 'evil-api.x.com', 443)).toBe(false);
    expect(matchesHost(pattern('api.x.com'), 'api.x.com.evil.net', 443)).toBe(false);
    expect(matchesHost(pattern('*.x.com'), 'a.b.x.com', 443)).toBe(true);
    expect(matchesHost(pattern('*.x.com'), 'x.com', 443)).toBe(false);
    expect(matchesHost(pattern('*.x.com'), 'evilx.com', 443)).toBe(false);
    expect(matchesHost(pattern('x.com:8443'), 'x.com', 8443)).toBe(true);
    expect(matchesHost(pattern('x.com:8443'), 'x.com', 443)).toBe(false);
  });
});

describe('header templates', () => {
  it('accepts Name: value with one {}, and renders it', () => {
    expect(HeaderTemplate.safeParse('Authorization: Bearer {}').success).toBe(true);
    expect(renderHeader('Authorization: Bearer {}', 'v$&1')).toEqual(['authorization', 'Bearer v$&1']);
    expect(renderHeader('X-Api-Key:{}', 'k')).toEqual(['x-api-key', 'k']);
  });

  it('refuses templates without exactly one {}, with line breaks, or on connection headers', () => {
    for (const bad of [
      'Authorization: Bearer',
      'A: {} {}',
      'A: {}\r\nB: x',
      'Host: {}',
      'no colon {}',
      ': {}',
    ])
      expect(HeaderTemplate.safeParse(bad).success, bad).toBe(false);
  });
});
