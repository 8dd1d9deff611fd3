// corral channel add slack through the real CLI: both tokens from stdin (either order), sealed in the store
// under channel:NAME and channel:NAME:app, never in channels.yaml, the database in plain text or the output.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CliResult } from '../../../test/fixtures/cli.ts';
import { runCorral } from '../../../test/fixtures/cli.ts';
import { channelSecretName } from '../../config/channels.ts';
import { resolveHome } from '../../config/home.ts';
import { openStore } from '../../host/open.ts';

const APP = 'xapp-1-A0TEST-1-appsecretvalue0123';
const BOT = 'xoxb-1111-2222-botsecretvalue4567';

describe('corral channel add slack', () => {
  let home: string;
  const corral = (args: string[], input = ''): CliResult => runCorral(home, args, input);

  beforeAll(() => {
    home = fs.mkdtempSync(path.join(os.tmpdir(), 'corral-slack-add-'));
    expect(corral(['init']).code).toBe(0);
  }, 120_000);
  afterAll(() => fs.rmSync(home, { recursive: true, force: true }));

  it('seals both tokens from stdin and writes only the kind and API root to channels.yaml', () => {
    const r = corral(
      ['channel', 'add', 'slack', 'team', '--api-root', 'http://127.0.0.1:9/api/'],
      `${BOT}\n${APP}\n`,
    );
    expect(r.code).toBe(0);
    expect(r.out + r.err).not.toMatch(/secretvalue/);
    const yaml = fs.readFileSync(path.join(home, 'channels.yaml'), 'utf8');
    expect(yaml).toMatch(/kind: slack/);
    expect(yaml).toMatch(/apiUrl: http:\/\/127\.0\.0\.1:9\/api\//);
    expect(yaml).not.toMatch(/secretvalue/);
    expect(fs.readFileSync(path.join(home, 'corral.db')).includes(Buffer.from('secretvalue'))).toBe(false);
    const store = openStore(resolveHome({ CORRAL_HOME: home }));
    try {
      expect(store.readSecret(channelSecretName('team'))).toBe(BOT);
      expect(store.readSecret(channelSecretName('team', 'app'))).toBe(APP);
    } finally {
      store.close();
    }
  });

  it('refuses a missing or foreign token without repeating what was typed', () => {
    for (const input of [BOT, `${BOT} xoxp-user-secretvalue-99`, `${BOT} ${APP} ${APP}`]) {
      const r = corral(['channel', 'add', 'slack', 'other'], input);
      expect(r.code).toBe(1);
      expect(r.err).toMatch(/app-level token \(xapp-…\) and the bot token \(xoxb-…\)/);
      expect(r.err).not.toMatch(/secretvalue/);
    }
    expect(fs.readFileSync(path.join(home, 'channels.yaml'), 'utf8')).not.toMatch(/other:/);
  });
});
