#!/usr/bin/env node
// One entry point, two ways to load the packages, chosen by Node's `development` export condition:
//   - without it (the images, `node packages/cli/bin/ringtrain.mjs`, `ringtrain` on PATH): the JavaScript that
//     `npm run build` (tsc) wrote to each package's dist/, run by plain Node;
//   - with it (anything started through npm or npx in this repository, whose .npmrc sets
//     NODE_OPTIONS=--conditions=development, or `node --conditions=development`): the TypeScript sources, loaded
//     through tsx, so a fresh clone runs and tests without a build and an edit needs none.
// Child processes inherit NODE_OPTIONS (and fork() this process's flags), and worker threads share its
// conditions, so every process of a run loads the packages the same way as the one that started it.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const entry = import.meta.resolve('#main');

if (entry.endsWith('.ts')) {
  const { register } = await import('tsx/esm/api');
  register();
  await run(entry);
} else if (existsSync(fileURLToPath(entry))) {
  await run(entry);
} else {
  // Not built (a fresh clone run by `node` directly): run the sources instead, in a child process, because the
  // condition must be set before Node resolves the first package. NODE_OPTIONS carries it to every descendant.
  runFromSources();
}

async function run(main) {
  const { main: ringtrain } = await import(main);
  process.exitCode = await ringtrain(process.argv.slice(2));
}

function runFromSources() {
  const nodeOptions = [process.env.NODE_OPTIONS, '--conditions=development'].filter(Boolean).join(' ');
  const child = spawn(process.execPath, [...process.execArgv, ...process.argv.slice(1)], {
    stdio: 'inherit',
    env: { ...process.env, NODE_OPTIONS: nodeOptions }
  });
  // The child shares this terminal's process group (Ctrl-C reaches both); signals sent to this pid alone (a
  // supervisor's SIGTERM) are passed on, and the child's exit becomes this process's.
  const signals = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  const forward = (signal) => child.kill(signal);
  for (const signal of signals) process.on(signal, forward);
  child.once('exit', (code, signal) => {
    for (const name of signals) process.off(name, forward);
    if (signal !== null) process.kill(process.pid, signal);
    else process.exitCode = code ?? 1;
  });
}
