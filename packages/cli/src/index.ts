export { main, buildProgram } from './main.js';
export { ExitError, UsageError } from './errors.js';
