#!/usr/bin/env node
// The packages ship TypeScript sources and run them through tsx, so `npx ringtrain` works right after
// `npm ci` with no build step. Child processes and worker threads are started with the same loader.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/main.ts');
process.exitCode = await main(process.argv.slice(2));
