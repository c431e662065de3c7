/**
 * Node flags that make a child process load our packages the way this process does. Built (this file runs as
 * dist/tsx-loader.js under plain Node): none, the child resolves dist/ as we did. From the TypeScript sources
 * (the `development` export condition, see bin/ringtrain.mjs): that condition, in case it came from this
 * process's own flags rather than NODE_OPTIONS (which children inherit anyway), and tsx's ESM hooks.
 */
export const TSX_EXEC_ARGV: readonly string[] = import.meta.url.endsWith('.ts')
  ? ['--conditions=development', '--import', import.meta.resolve('tsx')]
  : [];
