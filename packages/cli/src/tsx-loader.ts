/**
 * Node flags that make a child process (or worker thread) run our TypeScript sources the way this process
 * does: the packages ship .ts and load through tsx's ESM hooks.
 */
export const TSX_EXEC_ARGV: readonly string[] = ['--import', import.meta.resolve('tsx')];
