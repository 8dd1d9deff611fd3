// Allow patterns: every accepted form parses to the rule it means; nonsense is refused with a clear error.
import { describe, expect, it } from 'vitest';
import { parseEgressPattern, patternProblem } from './egress-pattern.ts';

describe('parseEgressPattern', () => {
  it.each([
    ['example.com', { host: { kind: 'name', name: 'example.com' }, ports: [80, 443] }],
    ['Example.COM.', { host: { kind: 'name', name: 'example.com' }, ports: [80, 443] }],
    ['*.example.com', { host: { kind: 'suffix', suffix: 'example.com' }, ports: [80, 443] }],
    ['example.com:8443', { host: { kind: 'name', name: 'example.com' }, ports: [8443] }],
    ['10.203.7.2:8080', { host: { kind: 'ip', ip: '10.203.7.2' }, ports: [8080] }],
    ['10.203.7.2', { host: { kind: 'ip', ip: '10.203.7.2' }, ports: [80, 443] }],
    ['[fd00::1]:80', { host: { kind: 'ip', ip: 'fd00:0:0:0:0:0:0:1' }, ports: [80] }],
    ['fd00::1', { host: { kind: 'ip', ip: 'fd00:0:0:0:0:0:0:1' }, ports: [80, 443] }],
    ['GET api.example.com/v1/*', { method: 'GET', path: '/v1/*', ports: [80, 443] }],
    ['POST api.example.com:8080/upload/**', { method: 'POST', path: '/upload/**', ports: [8080] }],
    ['api.example.com/docs', { path: '/docs' }],
    ['GET [fd00::1]:80/x', { method: 'GET', path: '/x', host: { kind: 'ip', ip: 'fd00:0:0:0:0:0:0:1' } }],
  ])('%s', (source, rule) => {
    expect(parseEgressPattern(source)).toMatchObject({ source, ...rule });
  });

  it.each([
    ['', /cannot be empty/],
    ['   ', /cannot be empty/],
    ['*', /every host/],
    ['*:443', /every host/],
    ['*.com', /public suffix 'com'/],
    ['*.co.uk', /public suffix 'co.uk'/],
    ['*.github.io', /public suffix/],
    ['foo.*.com', /leading '\*\.'/],
    ['*example.com', /leading '\*\.'/],
    ['http://example.com', /without a scheme/],
    ['https://example.com/x', /without a scheme/],
    ['GET https://example.com/x', /without a scheme/],
    [' example.com', /whitespace/],
    ['example.com ', /whitespace/],
    ['GET  example.com', /whitespace/],
    ['example.com\t', /whitespace/],
    ['a b c', /expected \[METHOD\]/],
    ['get example.com', /HTTP method/],
    ['example.com:0', /port/],
    ['example.com:70000', /port/],
    ['example.com:http', /port/],
    ['exa_mple.com', /not a host name/],
    ['-bad.com', /not a host name/],
    ['0177.0.0.1', /four decimal numbers: 127.0.0.1/],
    ['2130706433', /four decimal numbers: 127.0.0.1/],
    ['0x7f.1', /not a valid IPv4/],
    ['999.1.1.1', /not a valid IP/],
    ['169.254.169.254', /metadata/],
    ['[fd00:ec2::254]:80', /metadata/],
    ['0.0.0.0:80', /unspecified/],
    ['224.0.0.1', /multicast/],
    [':443', /host is missing/],
    ['example.com/a b', /HTTP method/],
  ])('refuses %j', (source, message) => {
    expect(patternProblem(source)).toMatch(message);
  });

  it('accepts an explicit private or loopback literal: the one way to allow one on purpose', () => {
    expect(patternProblem('127.0.0.1:5432')).toBeUndefined();
    expect(patternProblem('192.168.1.10')).toBeUndefined();
  });
});
