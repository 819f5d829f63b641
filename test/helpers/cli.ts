/**
 * Runs the `rmq-connector` CLI as a user does: a real process of the build's entry point, with
 * its output, exit code and duration collected.
 */
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

/** The CLI's entry point in the build (dist/src/cli/main.js). */
export const CLI_MAIN = fileURLToPath(new URL("../../src/cli/main.js", import.meta.url));

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Runs the CLI with `args`, feeding `input` on stdin; killed after `limitMs`. */
export function runCli(args: readonly string[], input = "", limitMs = 60_000): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const child = spawn(process.execPath, [CLI_MAIN, ...args], { stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (s: string) => (stdout += s));
    child.stderr.setEncoding("utf8").on("data", (s: string) => (stderr += s));
    const timer = setTimeout(() => child.kill("SIGKILL"), limitMs);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, ms: Date.now() - started });
    });
    child.stdin.end(input);
  });
}
