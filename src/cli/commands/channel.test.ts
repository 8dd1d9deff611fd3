// corral channel add|list|rm and agent set --channel through the real CLI: the token comes from stdin and is
// sealed in the store (never in channels.yaml, argv or output), a pairing code is printed once, bindings land
// in the agent file, and a trigger pattern that is broken or matches everything is refused.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CliResult } from '../../../test/fixtures/cli.ts';
import { runCorral } from '../../../test/fixtures/cli.ts';

const TOKEN = '123456789:AAH-secret-token-value-xyz0123456789';

describe('corral channel', () => {
  let home: string;
  const corral = (args: string[], input = ''): CliResult => runCorral(home, args, input);

  beforeAll(() => {
    home = fs.mkdtempSync(path.join(os.tmpdir(), 'corral-channel-'));
    expect(corral(['init']).code).toBe(0);
    expect(corral(['agent', 'add', 'helper']).code).toBe(0);
  }, 120_000);
  afterAll(() => fs.rmSync(home, { recursive: true, force: true }));

  it('adds a telegram channel from stdin, prints a pairing code, and never writes the token in plain text', () => {
    const r = corral(['channel', 'add', 'telegram', 'tg'], TOKEN + '\n');
    expect(r.err).toBe(r.err.replace(TOKEN, ''));
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/pairing code: [A-Z2-9]{4}-[A-Z2-9]{4}/);
    expect(r.out).not.toContain(TOKEN);
    const yaml = fs.readFileSync(path.join(home, 'channels.yaml'), 'utf8');
    expect(yaml).toMatch(/kind: telegram/);
    expect(yaml).not.toContain(TOKEN);
    expect(fs.readFileSync(path.join(home, 'corral.db')).includes(Buffer.from(TOKEN))).toBe(false);
    expect(corral(['channel', 'add', 'telegram', 'tg'], TOKEN).code).toBe(1);
    expect(corral(['channel', 'add', 'telegram', 'bad'], 'not-a-token').err).toMatch(/Telegram bot token/);
  });

  it('binds an agent with a trigger, refuses bad patterns, lists and removes', () => {
    expect(
      corral(['agent', 'set', 'helper', '--channel', 'tg:-100500', '--trigger', '/^!ask\\b/i']).code,
    ).toBe(0);
    const agent = fs.readFileSync(path.join(home, 'agents', 'helper.yaml'), 'utf8');
    expect(agent).toMatch(/channel: tg/);
    expect(agent).toMatch(/chat: "-100500"/);
    const broken = corral(['agent', 'set', 'helper', '--channel', 'tg', '--trigger', '/([a-/']);
    expect(broken.code).toBe(1);
    expect(broken.err).toMatch(/not a valid pattern/);
    const empty = corral(['agent', 'set', 'helper', '--channel', 'tg', '--trigger', '/.*/']);
    expect(empty.code).toBe(1);
    expect(empty.err).toMatch(/matches an empty message/);
    const list = corral(['channel', 'list', '--json']);
    expect(JSON.parse(list.out)).toEqual([
      {
        name: 'tg',
        kind: 'telegram',
        owner: 'unpaired',
        agents: ['helper(-100500)'],
        state: 'not running',
        since: null,
      },
    ]);
    expect(corral(['agent', 'set', 'helper', '--unbind', 'tg:-100500']).code).toBe(0);
    expect(corral(['channel', 'rm', 'tg']).code).toBe(0);
    expect(JSON.parse(corral(['channel', 'list', '--json']).out)).toEqual([]);
  });

  it('adds a webhook channel with a generated signing key shown once', () => {
    const r = corral(['channel', 'add', 'webhook', 'hook', '--url', 'http://127.0.0.1:9/replies']);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/signing key .*: [0-9a-f]{64}/);
    expect(corral(['channel', 'add', 'webhook', 'api']).err).toMatch(/reserved/);
  });

  it('adds a telegram channel in webhook mode with a secret kept in the store, and removes it', () => {
    const url = 'https://bot.example.com/v1/channels/telegram/hooked';
    // the Bot API root is a closed loopback port: rm's deleteWebhook must fail politely, and go nowhere else
    const add = (extra: string[]) =>
      corral(['channel', 'add', 'telegram', 'hooked', '--api-root', 'http://127.0.0.1:9', ...extra], TOKEN);
    expect(add(['--webhook-url', 'http://bot.example.com/x']).err).toMatch(/only to https/);
    const r = add(['--webhook-url', url]);
    expect(r.code).toBe(0);
    expect(r.err).toMatch(/corral up starts it when it starts/);
    expect(r.err).toContain('/v1/channels/telegram/hooked');
    const yaml = fs.readFileSync(path.join(home, 'channels.yaml'), 'utf8');
    expect(yaml).toContain(url);
    expect(yaml).not.toMatch(/secret/i);
    const rm = corral(['channel', 'rm', 'hooked']);
    expect(rm.code).toBe(0);
    expect(rm.err).toMatch(/webhook was not deleted/);
    expect(rm.err).not.toContain(TOKEN);
  });
});
