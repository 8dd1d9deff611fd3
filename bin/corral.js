#!/usr/bin/env node
// Runs the TypeScript CLI directly (no build step): tsx compiles on load.
import process from 'node:process';
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv);
