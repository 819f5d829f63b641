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

/**
 * Runs the CLI with `args`, feeding `input` on stdin; killed after `limitMs`. `env` is added to
 * this process's environment.
 */
export function runCli(
  args: readonly string[],
  input = "",
  limitMs = 60_000,
  env: Readonly<Record<string, string>> = {},
): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const child = spawn(process.execPath, [CLI_MAIN, ...args], {
      stdio: ["pipe", "pipe", "pipe"],
      env: { ...process.env, ...env },
    });
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

/** A CLI process still running: its output so far, and its end. */
export interface CliProcess {
  stdout(): string;
  stderr(): string;
  /** Resolves with the finished run; the process is killed after `limitMs`. */
  exited: Promise<CliRun>;
  /** Resolves once `predicate(stdout, stderr)` holds; rejects after `timeoutMs` or if the process ends first. */
  waitFor(predicate: (stdout: string, stderr: string) => boolean, timeoutMs: number): Promise<void>;
  kill(): void;
}

/** Starts the CLI with `args` and `env` (added to this process's), stdin closed. */
export function startCli(
  args: readonly string[],
  env: Readonly<Record<string, string>> = {},
  limitMs = 120_000,
): CliProcess {
  const started = Date.now();
  const child = spawn(process.execPath, [CLI_MAIN, ...args], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, ...env },
  });
  let stdout = "";
  let stderr = "";
  const listeners = new Set<() => void>();
  const notify = (): void => listeners.forEach((l) => l());
  child.stdout.setEncoding("utf8").on("data", (s: string) => {
    stdout += s;
    notify();
  });
  child.stderr.setEncoding("utf8").on("data", (s: string) => {
    stderr += s;
    notify();
  });
  const timer = setTimeout(() => child.kill("SIGKILL"), limitMs);
  let closed = false;
  const exited = new Promise<CliRun>((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      closed = true;
      resolve({ code, stdout, stderr, ms: Date.now() - started });
      notify();
    });
  });
  return {
    stdout: () => stdout,
    stderr: () => stderr,
    exited,
    kill: () => child.kill("SIGKILL"),
    waitFor(predicate, timeoutMs) {
      return new Promise((resolve, reject) => {
        const check = (): void => {
          if (predicate(stdout, stderr)) done(undefined);
          else if (closed) done(new Error(`the process ended first; stderr: ${stderr}`));
        };
        const deadline = setTimeout(
          () => done(new Error(`not seen within ${timeoutMs} ms; stderr: ${stderr}`)),
          timeoutMs,
        );
        const done = (err: Error | undefined): void => {
          clearTimeout(deadline);
          listeners.delete(check);
          if (err) reject(err);
          else resolve();
        };
        listeners.add(check);
        check();
      });
    },
  };
}

/** The bodies of the JSON lines `consume` printed (its default output), in order. */
export function consumedBodies(stdout: string): string[] {
  return stdout
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => (JSON.parse(l) as { body: string }).body);
}
