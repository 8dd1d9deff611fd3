// Ordinary clients inside a real sandbox through the gateway: git clones over HTTP and Node's own http client
// fetches, from a private origin in a network namespace this test creates, allowed by one explicit rule.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addProvider, createE2e, hasBwrap } from './harness.ts';
import { canCreateNetns, startNetnsOrigin } from './netns.ts';
import type { NetnsOrigin } from './netns.ts';

const PORT = 8080;
const hasGit = spawnSync('git', ['--version']).status === 0;

function git(cwd: string, args: string[]): void {
  const r = spawnSync('git', args, {
    cwd,
    encoding: 'utf8',
    env: {
      PATH: '/usr/bin:/bin',
      HOME: cwd,
      GIT_AUTHOR_NAME: 't',
      GIT_AUTHOR_EMAIL: 't@t',
      GIT_COMMITTER_NAME: 't',
      GIT_COMMITTER_EMAIL: 't@t',
    },
  });
  if (r.status !== 0) throw new Error(`git ${args.join(' ')}: ${r.stderr}`);
}

/** A bare repository with one commit, ready for git's dumb HTTP protocol. */
function makeRepo(root: string): void {
  const work = path.join(root, 'work');
  fs.mkdirSync(work);
  git(work, ['init', '-q', '-b', 'main']);
  fs.writeFileSync(path.join(work, 'README'), 'cloned through the corral gateway\n');
  git(work, ['add', 'README']);
  git(work, ['commit', '-q', '-m', 'first']);
  git(root, ['clone', '-q', '--bare', work, 'repo.git']);
  git(path.join(root, 'repo.git'), ['update-server-info']);
  fs.chmodSync(root, 0o755);
}

describe.skipIf(!hasBwrap || !canCreateNetns || !hasGit)(
  'git and node inside the sandbox through the gateway',
  () => {
    let e: Awaited<ReturnType<typeof createE2e>>;
    let origin: NetnsOrigin;
    let staticDir: string;
    let base: string;

    beforeAll(async () => {
      staticDir = fs.mkdtempSync(path.join(os.tmpdir(), 'corral-origin-'));
      makeRepo(staticDir);
      origin = await startNetnsOrigin([PORT], { staticDir });
      base = `http://${origin.address}:${PORT}`;
      e = await createE2e();
      await e.setup([
        [['init']],
        addProvider('stand', 'anthropic', e.modelUrl, 'K'),
        [['secret', 'set', 'K'], 'sk-model'],
        [['agent', 'add', 'dev', '--model', 'stand:m', '--allow', `${origin.address}:${PORT}`]],
        [['agent', 'add', 'closed', '--model', 'stand:m']],
      ]);
    });
    afterAll(async () => {
      origin?.close();
      await e?.close();
      fs.rmSync(staticDir, { recursive: true, force: true });
    });

    it('git clones a repository over HTTP', async () => {
      const r = await e.corral([
        'run',
        'dev',
        `bash: git clone -q ${base}/static/repo.git r 2>&1 && cat r/README`,
      ]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toContain('tool said: cloned through the corral gateway');
      expect(origin.seen).toContain('GET /static/repo.git/info/refs?service=git-upload-pack');
    });

    it("node's http client fetches through HTTP_PROXY", async () => {
      const script = `const u=new URL(process.env.HTTP_PROXY);require("http").get({host:u.hostname,port:u.port,path:process.argv[1]},(r)=>{process.stdout.write(r.statusCode+" ");r.pipe(process.stdout)})`;
      const r = await e.corral(['run', 'dev', `bash: node -e '${script}' ${base}/from-node`]);
      expect(r.stdout).toContain('tool said: 200 NETNS-ORIGIN GET /from-node');
    });

    it('an agent without the rule clones nothing', async () => {
      const before = origin.seen.length;
      const r = await e.corral([
        'run',
        'closed',
        `bash: git clone -q ${base}/static/repo.git r 2>&1; ls r 2>&1 | head -1`,
      ]);
      expect(r.stdout).toContain('403');
      expect(origin.seen.length).toBe(before);
    });
  },
);
