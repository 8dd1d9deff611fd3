import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    // e2e tests start real sandboxes on a 2-core machine; under a loaded machine 30 s was too close
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // builds the Debian base image once (cached across runs) before any test needs it
    globalSetup: ['test/global-setup.ts'],
    // every test, and every corral a test starts, shares that one image instead of building its own
    env: { CORRAL_IMAGE_CACHE: process.env['CORRAL_IMAGE_CACHE'] || '/var/cache/corral-test/images' },
  },
});
