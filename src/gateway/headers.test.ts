// Header filtering: sandbox credentials and hop-by-hop headers never cross; the real key is added.
import { describe, expect, it } from 'vitest';
import { downstreamResponseHeaders, upstreamRequestHeaders } from './headers.ts';

describe('upstreamRequestHeaders', () => {
  const incoming = {
    host: '127.0.0.1:4000',
    authorization: 'Bearer placeholder',
    'x-api-key': 'placeholder',
    'proxy-authorization': 'Basic abc',
    cookie: 'a=b',
    connection: 'keep-alive, x-hop',
    'x-hop': 'drop me',
    'transfer-encoding': 'chunked',
    'accept-encoding': 'gzip, br',
    'content-type': 'application/json',
    'anthropic-version': '2023-06-01',
  };

  it('replaces credentials with the real anthropic key and drops hop-by-hop headers', () => {
    expect(upstreamRequestHeaders(incoming, 'anthropic', 'REAL')).toEqual({
      'content-type': 'application/json',
      'anthropic-version': '2023-06-01',
      'accept-encoding': 'identity',
      'x-api-key': 'REAL',
    });
  });

  it('uses a bearer token for openai', () => {
    const out = upstreamRequestHeaders(incoming, 'openai', 'REAL');
    expect(out.authorization).toBe('Bearer REAL');
    expect(out['x-api-key']).toBeUndefined();
  });
});

describe('downstreamResponseHeaders', () => {
  it('drops hop-by-hop, length and encoding headers and redacts values', () => {
    const out = downstreamResponseHeaders(
      {
        'content-type': 'text/event-stream',
        'content-length': '10',
        'content-encoding': 'gzip',
        connection: 'keep-alive',
        'keep-alive': 'timeout=5',
        'x-echo': 'key=REAL',
        'set-cookie': ['a=REAL', 'b=1'],
      },
      (v) => v.replaceAll('REAL', '[redacted]'),
    );
    expect(out).toEqual({
      'content-type': 'text/event-stream',
      'x-echo': 'key=[redacted]',
      'set-cookie': ['a=[redacted]', 'b=1'],
    });
  });
});
