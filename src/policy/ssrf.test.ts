// The SSRF guard refuses every non-public class of address, in every spelling a client might use.
import { describe, expect, it } from 'vitest';
import { parseIp } from './ip.ts';
import { blockedReason } from './ssrf.ts';

function reason(text: string, local: string[] = []): string | undefined {
  const ip = parseIp(text);
  if (!ip) throw new Error(`test address ${text} does not parse`);
  return blockedReason(
    ip,
    local.map((l) => parseIp(l) ?? { family: 4, bytes: [] }),
  );
}

describe('parseIp spellings', () => {
  it.each([
    ['127.0.0.1', '127.0.0.1'],
    ['2130706433', '127.0.0.1'],
    ['0177.0.0.1', '127.0.0.1'],
    ['0x7f.1', '127.0.0.1'],
    ['0x7f000001', '127.0.0.1'],
    ['127.1', '127.0.0.1'],
    ['10.1.258', '10.1.1.2'],
    ['017700000001', '127.0.0.1'],
    ['169.254.43518', '169.254.169.254'],
    ['0xA9.0xFE.0xA9.0xFE', '169.254.169.254'],
    ['0x', '0.0.0.0'], // as WHATWG URL reads it
  ])('%s is %s', (text, canonical) => {
    expect(parseIp(text)?.bytes.join('.')).toBe(canonical);
  });

  it('refuses what is not an address', () => {
    for (const bad of [
      '256.0.0.1',
      '1.2.3.4.5',
      'example.com',
      '1.2.3.256',
      '4294967296',
      '08.0.0.1',
      '',
      '[::1',
      '::g',
    ])
      expect(parseIp(bad), bad).toBeUndefined();
  });

  it('expands IPv6 forms, IPv4 tails included', () => {
    expect(parseIp('[::1]')?.bytes).toEqual([...Array<number>(15).fill(0), 1]);
    expect(parseIp('::ffff:127.0.0.1')?.bytes.slice(10)).toEqual([0xff, 0xff, 127, 0, 0, 1]);
    expect(parseIp('fe80::1%eth0')).toBeUndefined();
  });
});

describe('blockedReason', () => {
  it.each([
    ['127.0.0.1', 'loopback'],
    ['127.255.255.254', 'loopback'],
    ['2130706433', 'loopback'],
    ['0177.0.0.1', 'loopback'],
    ['0x7f.1', 'loopback'],
    ['10.0.0.1', 'RFC 1918'],
    ['172.16.0.1', 'RFC 1918'],
    ['172.31.255.255', 'RFC 1918'],
    ['192.168.1.1', 'RFC 1918'],
    ['100.64.0.1', 'CGNAT'],
    ['100.127.255.255', 'CGNAT'],
    ['169.254.1.1', 'link-local'],
    ['169.254.169.254', 'metadata'],
    ['100.100.100.200', 'metadata'],
    ['fd00:ec2::254', 'metadata'],
    ['[fd00:ec2::254]', 'metadata'],
    ['0.0.0.0', 'unspecified'],
    ['0', 'unspecified'],
    ['224.0.0.1', 'multicast'],
    ['239.255.255.250', 'multicast'],
    ['255.255.255.255', 'broadcast'],
    ['::', 'unspecified'],
    ['::1', 'loopback'],
    ['[::1]', 'loopback'],
    ['fc00::1', 'ULA'],
    ['fdff:ffff::1', 'ULA'],
    ['fe80::1', 'link-local'],
    ['febf::1', 'link-local'],
    ['ff02::1', 'multicast'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['[::ffff:127.0.0.1]', 'loopback'],
    ['::ffff:7f00:1', 'loopback'],
    ['::ffff:10.0.0.1', 'RFC 1918'],
    ['::ffff:169.254.169.254', 'metadata'],
    ['::127.0.0.1', 'loopback'],
    ['64:ff9b::a9fe:a9fe', 'metadata'],
    ['2002:7f00:1::', 'loopback'],
    ['2001:db8::1', 'documentation'],
  ])('%s is refused (%s)', (text, why) => {
    expect(reason(text)).toContain(why);
  });

  it.each([
    '93.184.215.14',
    '8.8.8.8',
    '1.1.1.1',
    '172.32.0.1',
    '100.128.0.1',
    '2606:4700::1111',
    '::ffff:8.8.8.8',
    '2002:808:808::',
  ])('%s is public', (text) => {
    expect(reason(text)).toBeUndefined();
  });

  it("refuses the host's own addresses, also through an IPv4-mapped spelling", () => {
    expect(reason('198.199.0.7', ['198.199.0.7'])).toContain("host's own");
    expect(reason('::ffff:198.199.0.7', ['198.199.0.7'])).toContain("host's own");
    expect(reason('2a01:4f8::7', ['2a01:4f8:0:0::7'])).toContain("host's own");
    expect(reason('198.199.0.8', ['198.199.0.7'])).toBeUndefined();
  });
});
