import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // builds the Debian base image once (cached across runs) before any test needs it
    globalSetup: ['test/global-setup.ts'],
    // every test, and every corral a test starts, shares that one image instead of building its own
    env: { CORRAL_IMAGE_CACHE: process.env['CORRAL_IMAGE_CACHE'] || '/var/cache/corral-test/images' },
  },
});
