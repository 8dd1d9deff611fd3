// Files an agent sent with a reply, in the dashboard's chat: a download link under the reply (its name escaped),
// served behind the login with the same inert headers as the API's download route.
import { afterEach, beforeEach, expect, it } from 'vitest';
import type { TestDashboard } from './test-harness.ts';
import { ADMIN_TOKEN, client, startTestDashboard, TEST_FILE, VIEWER_TOKEN } from './test-harness.ts';

let d: TestDashboard;
beforeEach(async () => {
  d = await startTestDashboard();
});
afterEach(async () => {
  await d.close();
});

it('links the files under the reply and serves them to a logged-in viewer only', async () => {
  const c = client(d.base);
  expect((await c.login(ADMIN_TOKEN)).status).toBe(303);
  const sent = await c.request('POST', '/ui/chat/alpha', {
    form: { text: 'send a file', thread: 'web', _csrf: await c.csrf() },
    headers: { accept: 'application/json' },
  });
  const id = /"id":"([^"]+)"/.exec(sent.text)?.[1] ?? '';
  await expect.poll(() => d.store.getInbound(id)?.status).toBe('done');
  const link = `/ui/files/${id}/${TEST_FILE.id}`;
  const page = await c.request('GET', '/ui/chat/alpha?thread=web');
  expect(page.text).toContain(`href="${link}"`);
  expect(page.text).toContain('&lt;b&gt;report&lt;/b&gt;.pdf');
  expect(page.text).not.toContain('<b>report</b>');

  const viewer = client(d.base);
  expect((await viewer.login(VIEWER_TOKEN)).status).toBe(303);
  const res = await fetch(d.base + link, { headers: { cookie: viewer.cookie() } });
  expect(res.status).toBe(200);
  expect(Buffer.from(await res.arrayBuffer()).equals(TEST_FILE.content)).toBe(true);
  expect(res.headers.get('content-disposition')).toMatch(/^attachment; /);
  expect(res.headers.get('x-content-type-options')).toBe('nosniff');

  const anonymous = await fetch(d.base + link, { redirect: 'manual' });
  expect(anonymous.status).toBe(303);
  expect(anonymous.headers.get('location')).toBe('/ui/login');
  const wrong = await fetch(`${d.base}/ui/files/${id}/${'0'.repeat(8)}-0000-4000-8000-${'0'.repeat(12)}`, {
    headers: { cookie: viewer.cookie() },
  });
  expect(wrong.status).toBe(404);
});
