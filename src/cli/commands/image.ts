// corral image build|list|rm: the Debian base image every sandbox starts from.
import type { Command } from 'commander';
import { createProgressDisplay, formatBytes, stderrDisplay } from '../../sandbox/image/display.ts';
import {
  currentInputs,
  ensureBaseImage,
  imageCacheDir,
  listImages,
  removeImage,
} from '../../sandbox/image/index.ts';
import type { CliContext } from '../context.ts';
import { printTable } from '../context.ts';

export function registerImage(program: Command, ctx: CliContext): void {
  const image = program.command('image').description('the Debian base image every sandbox starts from');
  const cacheDir = (): string => imageCacheDir(ctx.home.imagesDir);
  image
    .command('build')
    .description('build the base image for this host (about a minute); reuses it when nothing changed')
    .option('--force', 'build again even when an image with the same inputs exists')
    .option('--json', 'print progress events as NDJSON on stdout')
    .action(async (opts: { force?: boolean; json?: boolean }) => {
      const json = opts.json === true;
      const img = await ensureBaseImage({
        cacheDir: cacheDir(),
        force: opts.force === true,
        onProgress: json ? createProgressDisplay(ctx.out, 'json') : stderrDisplay(),
      });
      if (!json) ctx.out(`${img.id} ${img.rootfs}\n`);
    });
  image
    .command('list')
    .description('images in the cache; CURRENT is the one new sandboxes use')
    .option('--json', 'print JSON')
    .action((opts: { json?: boolean }) => {
      const current = currentInputs().id;
      const json = opts.json === true;
      const rows = listImages(cacheDir()).map((i) => ({
        id: i.id,
        created: i.manifest.created,
        ...(json ? { sizeBytes: i.manifest.sizeBytes } : { size: formatBytes(i.manifest.sizeBytes) }),
        packages: i.manifest.packages.length,
        node: i.manifest.nodeVersion,
        current: i.id === current,
        ...(json ? { rootfs: i.rootfs } : {}),
      }));
      printTable(ctx, rows, json, `no base image in ${cacheDir()}; build one with: corral image build`);
    });
  image
    .command('rm <id>')
    .description('remove an image (agents keep their layers); refuses the current one without --force')
    .option('--force', 'remove the current image too (the next sandbox builds it again)')
    .action((id: string, opts: { force?: boolean }) => {
      removeImage(cacheDir(), id, { force: opts.force === true });
      ctx.err(`removed ${id}\n`);
    });
}
