// corral doctor's channel lines, from channels.yaml, the store and the running host's run/channels.json.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { channelSecretName, saveChannels } from '../../config/channels.ts';
import { channelStatusFile } from '../../host/channels/channel-host.ts';
import { daemonInfoFile } from '../../host/daemon/pidfile.ts';
import { openStore } from '../../host/open.ts';
import { createCliContext } from '../context.ts';
import { channelChecks } from './doctor-channels.ts';

describe('doctor: channels', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
  });

  it('shows a revoked token with its fix, a retrying channel since when, and a missing token', () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'corral-doctor-ch-'));
    dirs.push(root);
    const ctx = createCliContext({ CORRAL_HOME: root });
    saveChannels(ctx.home, {
      channels: {
        tg: { kind: 'telegram', owner: { chat: '5', sender: '5' } },
        hook: { kind: 'webhook', url: 'http://127.0.0.1:9/x' },
        gone: { kind: 'telegram' },
        hooked: { kind: 'telegram', webhook: { url: 'https://bot.example.com/hook' } },
      },
    });
    const store = openStore(ctx.home);
    store.putSecret(channelSecretName('tg'), '1:x');
    store.putSecret(channelSecretName('hook'), 'k'.repeat(32));
    store.putSecret(channelSecretName('hooked'), '2:y');
    store.close();
    fs.mkdirSync(ctx.home.runDir, { recursive: true });
    fs.writeFileSync(
      daemonInfoFile(ctx.home),
      JSON.stringify({ pid: process.pid, url: 'http://127.0.0.1:1', startedAt: '' }),
    );
    fs.writeFileSync(
      channelStatusFile(ctx.home),
      JSON.stringify({
        at: '',
        channels: [
          {
            name: 'tg',
            kind: 'telegram',
            state: 'failed',
            since: '2026-11-29T20:00:00Z',
            detail: 'token rejected by Telegram (401)',
            fix: 'get a new one from @BotFather',
          },
          {
            name: 'hook',
            kind: 'webhook',
            state: 'retrying',
            since: '2026-11-29T20:01:00Z',
            detail: 'reply delivery failed',
          },
        ],
      }),
    );
    const checks = channelChecks(ctx);
    const tg = checks.find((c) => c.name === 'channel tg');
    expect(tg?.ok).toBe(false);
    expect(tg?.detail).toMatch(/failed since 2026-11-29T20:00:00Z: token rejected/);
    expect(tg?.fix).toMatch(/BotFather/);
    const hook = checks.find((c) => c.name === 'channel hook');
    expect(hook?.ok).toBe(false);
    expect(hook?.detail).toMatch(/retrying since 2026-11-29T20:01:00Z/);
    expect(checks.find((c) => c.name === 'channel gone')?.detail).toMatch(/no token/);
    const hooked = checks.find((c) => c.name === 'channel hooked');
    expect(hooked?.detail).toMatch(/no webhook secret/);
    expect(hooked?.fix).toContain('--webhook-url https://bot.example.com/hook');
  });
});
