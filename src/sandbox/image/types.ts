// The base image's public shapes: what goes into an image (its inputs), what a built one records, progress events.
import { z } from 'zod';

export const IMAGE_ID_RE = /^corral-base-[0-9a-f]{12}$/;

export const imageInputsSchema = z.object({
  suite: z.string().describe('Debian release, e.g. bookworm'),
  mirror: z.string().describe('the archive the rootfs is built from and that apt inside points at'),
  sources: z.array(z.string()).describe('one-line apt sources written into the image'),
  variant: z.string().describe('mmdebstrap/debootstrap variant'),
  packages: z.array(z.string()).describe('packages asked for on top of the variant, sorted'),
  dpkgExcludes: z
    .array(z.string())
    .describe('dpkg path-exclude/path-include lines (docs, man pages, locales)'),
  tool: z.enum(['mmdebstrap', 'debootstrap']).describe('what built the rootfs'),
  mode: z
    .enum(['root', 'unshare'])
    .describe('as root (files owned by root) or in a user namespace (files owned by the user who built it)'),
  node: z.object({ version: z.string(), sha256: z.string() }).describe('the host Node copied in'),
  npm: z
    .string()
    .nullable()
    .describe('npm version copied next to node, null when the host has none beside it'),
  scriptVersion: z.number().int().describe('bumped whenever the build steps change'),
});
export type ImageInputs = z.infer<typeof imageInputsSchema>;

export const installedPackageSchema = z.object({
  name: z.string(),
  version: z.string(),
  arch: z.string(),
});
export type InstalledPackage = z.infer<typeof installedPackageSchema>;

export const imageManifestSchema = z.object({
  id: z.string().regex(IMAGE_ID_RE),
  inputs: imageInputsSchema,
  created: z.string().describe('ISO time the build finished'),
  nodeVersion: z.string().describe('what /usr/local/bin/node --version printed inside the image'),
  packages: z.array(installedPackageSchema).describe('dpkg status of the rootfs, sorted by name'),
  sizeBytes: z.number().int().nonnegative().describe('apparent size of rootfs/, hard links counted once'),
  buildMs: z.number().int().nonnegative(),
});
export type ImageManifest = z.infer<typeof imageManifestSchema>;

export interface BaseImage {
  id: string;
  /** the read-only root filesystem directory */
  rootfs: string;
  manifest: ImageManifest;
}

export type ImageStep =
  'resolving' | 'downloading' | 'extracting' | 'installing' | 'adding node' | 'finishing';
export const IMAGE_STEPS: readonly ImageStep[] = [
  'resolving',
  'downloading',
  'extracting',
  'installing',
  'adding node',
  'finishing',
];

/** Progress of ensureBaseImage, for a terminal display or NDJSON. */
export type ImageProgress =
  | { type: 'build'; imageId: string; tool: ImageInputs['tool']; mode: ImageInputs['mode'] }
  | { type: 'step'; step: ImageStep; bytes: number; elapsedMs: number }
  | { type: 'bytes'; step: ImageStep; bytes: number; elapsedMs: number }
  | { type: 'waiting'; imageId: string; holderPid: number; elapsedMs: number }
  | { type: 'done'; imageId: string; built: boolean; sizeBytes: number; elapsedMs: number };
