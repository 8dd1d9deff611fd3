// The dashboard in a real headless Chromium against a real `corral up` (bwrap sandboxes, the stand-in model):
// log in, create an agent in the YAML editor, chat with it, approve a held message, verify the audit chain, and
// see a POST without the CSRF token refused. Screenshots go to test-artifacts/dashboard/.
import fs from 'node:fs';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Up } from './daemon-harness.ts';
import { startUp, stopUp } from './daemon-harness.ts';
import { addProvider, createE2e, hasBwrap } from './harness.ts';

const CHROMIUM = '/usr/bin/chromium';
const hasChromium = fs.existsSync(CHROMIUM);
const SHOTS = path.resolve('test-artifacts/dashboard');
/** a turn starts a real sandbox; the first one may also mount the agent's volume */
const REPLY_MS = 90_000;

describe.skipIf(!hasBwrap)('dashboard in Chromium', () => {
  let e: Awaited<ReturnType<typeof createE2e>>;
  let up: Up;
  let browser: Browser | undefined;

  beforeAll(async () => {
    e = await createE2e();
    await e.setup([
      [['init']],
      addProvider('stand', 'anthropic', e.modelUrl, 'STAND_KEY'),
      [['secret', 'set', 'STAND_KEY'], 'sk-stand-in-dashboard-e2e-7c1a'],
      [['agent', 'add', 'gated', '--model', 'stand:claude-test']],
    ]);
    // messages to `gated` wait for an operator: the approval the browser approves
    fs.writeFileSync(
      path.join(e.home, 'policy.yaml'),
      'version: 1\nrules:\n  - effect: ask\n    action: message.send\n    resource: agent:gated\n',
    );
    up = await startUp(e, ['--idle-timeout', '5s', '--grace', '10s']);
    fs.mkdirSync(SHOTS, { recursive: true });
  });
  afterAll(async () => {
    await browser?.close();
    await stopUp(up);
    await e?.close();
  });

  const shot = (page: Page, name: string) =>
    page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });

  // the reason is in the title only when it applies: a run must never read "skipped" when it ran
  it.skipIf(!hasChromium)(
    `logs in, creates an agent, chats, approves, verifies the audit chain${hasChromium ? '' : ` (skipped: no ${CHROMIUM})`}`,
    async () => {
      // --no-sandbox: Chromium refuses to run as root with its own sandbox; acceptable here only, in the test
      // launcher, for a browser that loads nothing but this test's loopback corral
      browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
      const context = await browser.newContext({ viewport: { width: 1200, height: 900 } });
      const page = await context.newPage();
      const token = fs.readFileSync(path.join(e.home, 'api-token'), 'utf8').trim();

      await page.goto(`${up.url}/`);
      expect(new URL(page.url()).pathname).toBe('/ui/login');
      await page.fill('#token', 'wrong-token');
      await page.click('button[type=submit]');
      await page.getByText('That token is not valid.').waitFor();
      await page.fill('#token', token);
      await shot(page, '01-login');
      await page.click('button[type=submit]');
      await page.waitForURL('**/ui/fleet');
      expect(page.url()).not.toContain(token);
      const cookies = await context.cookies();
      expect(cookies).toEqual([
        expect.objectContaining({ name: 'corral_session', httpOnly: true, sameSite: 'Strict', path: '/' }),
      ]);
      expect(cookies[0]?.value).not.toBe(token);

      // create an agent: live validation names the bad line, then the good definition is saved
      await page.click('text=New agent');
      await page.fill('#yaml', 'name: webbot\nmodel: stand:claude-test\nmaxSteps: 0\n');
      await page.locator('#validation .line').getByText('line 3').waitFor();
      await shot(page, '02-editor-invalid');
      await page.fill('#yaml', 'name: webbot\nmodel: stand:claude-test\ninstructions: You answer briefly.\n');
      await page.locator('#validation').getByText('Valid.').waitFor();
      await page.click('button[type=submit]');
      await page.waitForURL('**/ui/fleet**');
      await page.getByText('agent webbot created').waitFor();
      await expect
        .poll(async () => {
          await page.reload();
          return page.locator('tr[data-agent="webbot"] .state').textContent();
        })
        .toBe('idle');
      await shot(page, '03-fleet');

      // chat: the reply streams in over the events stream, from a real sandbox and the stand-in model
      await page.goto(`${up.url}/ui/chat/webbot`);
      await page.fill('#chat-text', 'hello from the browser');
      await page.click('#chat-form button[type=submit]');
      await page
        .locator('.msg-assistant.done .text')
        .getByText('echo: hello from the browser')
        .waitFor({ timeout: REPLY_MS });
      await shot(page, '04-chat');

      // a message the policy holds: approve it in the queue, and its reply arrives
      await page.goto(`${up.url}/ui/chat/gated`);
      await page.fill('#chat-text', 'let me in');
      await page.click('#chat-form button[type=submit]');
      await page.getByText(/waits for approval/).waitFor();
      await page.goto(`${up.url}/ui/approvals`);
      const card = page.locator('article.approval').filter({ hasText: 'message.send' });
      await card.getByText('let me in').waitFor();
      await shot(page, '05-approvals');
      await card.getByRole('button', { name: 'Approve' }).click();
      await page.getByText(/approval ap-[0-9a-f]{8} approved/).waitFor();
      await expect
        .poll(
          async () => {
            await page.goto(`${up.url}/ui/chat/gated`);
            return page.locator('.msg-assistant .text').allTextContents();
          },
          { timeout: REPLY_MS, interval: 1000 },
        )
        .toContain('echo: let me in');

      // the run view and the session history of the web chat
      await page.goto(`${up.url}/ui/agents/webbot?session=web:web`);
      await page.locator('.session-history').getByText('echo: hello from the browser').waitFor();
      // a run as it happens: the tool call with its arguments and output, then the end of the run
      const sent = await up.api('POST', '/v1/agents/webbot/messages', {
        text: 'bash: echo live-check',
        thread: 'live',
      });
      expect(sent.status).toBe(202);
      const live = page.locator('#live');
      await live.locator('.ev-tool').filter({ hasText: 'tool bash' }).waitFor({ timeout: REPLY_MS });
      await live.locator('pre').filter({ hasText: 'live-check' }).waitFor({ timeout: REPLY_MS });
      await live.getByText(/run done \(end/).waitFor({ timeout: REPLY_MS });
      await shot(page, '06-agent-live');

      // audit: one click verifies the chain
      await page.goto(`${up.url}/ui/audit?agent=webbot`);
      await page.click('#verify');
      await page
        .locator('.verify-ok')
        .getByText(/Audit chain intact: \d+ entries/)
        .waitFor();
      await shot(page, '07-audit-verified');

      await page.goto(`${up.url}/ui/usage`);
      await page
        .locator('section.usage[data-agent="webbot"] svg rect.bar')
        .first()
        .waitFor({ state: 'attached' });
      await shot(page, '08-usage');

      // a POST with the session cookie but no CSRF token is refused, from a page script and from outside
      const fromPage = await page.evaluate(async () => {
        const r = await fetch('/ui/agents/webbot/pause', { method: 'POST' });
        return r.status;
      });
      expect(fromPage).toBe(403);
      const outside = await context.request.post(`${up.url}/ui/agents/webbot/pause`, {
        headers: { origin: up.url },
        form: { x: '1' },
      });
      expect(outside.status()).toBe(403);
      expect(fs.readFileSync(path.join(e.home, 'agents', 'webbot.yaml'), 'utf8')).not.toContain(
        'paused: true',
      );

      // on a phone
      const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true });
      await phone.addCookies(cookies);
      const small = await phone.newPage();
      await small.goto(`${up.url}/ui/fleet`);
      await small.locator('tr[data-agent="webbot"]').waitFor();
      // nothing wider than the screen: no sideways scrolling
      const width = await small.evaluate('document.documentElement.scrollWidth');
      expect(width).toBeLessThanOrEqual(390);
      await shot(small, '09-fleet-phone');
      await phone.close();
      await context.close();
    },
    240_000,
  );
});
