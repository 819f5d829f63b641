/** One `rmq-connector` subcommand. */
export interface Command {
  /** One line for the command list of `rmq-connector --help`. */
  summary: string;
  /** Runs with the arguments after the command name; resolves with the exit code. */
  run(args: readonly string[]): Promise<number>;
}
