export interface CliOutput {
  out(line: string): void;
  err(line: string): void;
}

/** A reason not to start, told to the operator one line per problem. */
export class StartupError extends Error {
  constructor(
    readonly lines: string[],
    readonly exitCode = 1,
  ) {
    super(lines.join('; '));
    this.name = 'StartupError';
  }
}
