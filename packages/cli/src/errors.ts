/**
 * Errors that the top level turns into an exit code and a message. Commands throw these instead of calling
 * process.exit, so that every command stays testable and cleanup (finally blocks, child processes) runs.
 */
export class ExitError extends Error {
  constructor(
    readonly exitCode: number,
    message: string,
  ) {
    super(message);
    this.name = 'ExitError';
  }
}

/** Bad flags or arguments: exit code 2, like most Unix tools. */
export class UsageError extends ExitError {
  constructor(message: string) {
    super(2, message);
    this.name = 'UsageError';
  }
}
