/**
 * Child-process plumbing for the sandbox: running a tool to completion, and a registry of every
 * long-lived process we started so that nothing outlives the Node process that started it.
 *
 * Why a registry with process-group kills: the JVMs are spawned detached (their own process
 * group), so a Ctrl-C in the terminal does not reach them directly, and a JVM's own children (none
 * today, but the broker may fork in future versions) die with the group. The price is that we
 * must kill them ourselves on every way out: normal stop, 'exit' (which also runs after an
 * uncaught exception), and SIGINT/SIGTERM (which by default end Node without running 'exit').
 */
import { spawn, type ChildProcess } from "node:child_process";
import { closeSync, openSync, readFileSync, readSync, rmSync, statSync } from "node:fs";

/** Result of a command run to completion. */
export interface CommandResult {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface RunCommandOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Kill the command (whole group) after this many ms. Default 10 minutes. */
  timeoutMs?: number;
  signal?: AbortSignal;
}

/**
 * Runs `command args` to completion and collects its output. Rejects only when the command cannot
 * be started (ENOENT etc., the original error); a non-zero exit is a result, the caller decides.
 * A timeout or abort kills the command's process group and resolves with `signal` set.
 */
export function runCommand(
  command: string,
  args: readonly string[],
  options: RunCommandOptions = {},
): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: options.env ?? process.env,
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    child.stdout.on("data", (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on("data", (chunk: Buffer) => stderr.push(chunk));
    if (child.pid !== undefined) liveProcesses.add(child.pid);
    const kill = (): void => killGroup(child, "SIGKILL");
    const timer = setTimeout(kill, options.timeoutMs ?? 600_000);
    options.signal?.addEventListener("abort", kill, { once: true });
    child.once("error", (err) => {
      clearTimeout(timer);
      options.signal?.removeEventListener("abort", kill);
      reject(err);
    });
    child.once("close", (exitCode, signal) => {
      clearTimeout(timer);
      options.signal?.removeEventListener("abort", kill);
      if (child.pid !== undefined) liveProcesses.delete(child.pid);
      resolve({
        exitCode,
        signal,
        stdout: Buffer.concat(stdout).toString("utf8"),
        stderr: Buffer.concat(stderr).toString("utf8"),
      });
    });
  });
}

/** Sends `signal` to the child's whole process group (it was spawned detached). */
export function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  killPid(child.pid, signal);
}

function killPid(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // The group is gone already (ESRCH); try the pid alone in case it never became a group leader.
    try {
      process.kill(pid, signal);
    } catch {
      // Already dead: nothing to do.
    }
  }
}

/** True when a process with this pid exists (and is not a zombie we could still reap). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  // A zombie answers kill(0) until reaped; /proc tells the truth on Linux.
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return !/^\d+ \(.*\) Z/.test(stat);
  } catch {
    return true;
  }
}

/** A long-lived process whose stdout and stderr go to a log file. */
export interface LoggedProcess {
  child: ChildProcess;
  pid: number;
  logFile: string;
  /**
   * Where this run's output starts in logFile, in bytes: a restarted process appends to the log
   * of its earlier runs, whose boot line must not be taken for this run's.
   */
  logStart: number;
  /** Resolves once the process has exited (never rejects). */
  exited: Promise<{ exitCode: number | null; signal: NodeJS.Signals | null }>;
}

export interface SpawnLoggedOptions {
  cwd: string;
  env: NodeJS.ProcessEnv;
  logFile: string;
}

/**
 * Starts a detached process with stdout+stderr appended to `logFile`, and registers it so that
 * it is killed if this Node process ends first. Rejects when the process cannot be spawned.
 */
export async function spawnLogged(
  command: string,
  args: readonly string[],
  options: SpawnLoggedOptions,
): Promise<LoggedProcess> {
  // Appending (not truncating) keeps the log of earlier runs of a restarted broker for diagnosis.
  const fd = openSync(options.logFile, "a");
  const logStart = statSync(options.logFile).size;
  let child: ChildProcess;
  try {
    child = spawn(command, args, {
      cwd: options.cwd,
      env: options.env,
      stdio: ["ignore", fd, fd],
      detached: true,
    });
  } finally {
    // The child holds its own copy of the descriptor.
    closeSync(fd);
  }
  await new Promise<void>((resolve, reject) => {
    child.once("spawn", resolve);
    child.once("error", reject);
  });
  const pid = child.pid;
  if (pid === undefined) throw new Error(`${command} started without a pid`);
  liveProcesses.add(pid);
  installExitHooks();
  const exited = new Promise<{ exitCode: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once("exit", (exitCode, signal) => {
      liveProcesses.delete(pid);
      resolve({ exitCode, signal });
    });
  });
  // A detached child would otherwise keep the event loop alive on its own.
  child.unref();
  return { child, pid, logFile: options.logFile, logStart, exited };
}

/**
 * True until the process has exited, by its own exit or by a signal. exitCode alone stays null
 * for a process ended by a signal (signalCode is set instead), so a SIGKILLed broker would count
 * as running and never be started again.
 */
export function isRunning(proc: LoggedProcess): boolean {
  return proc.child.exitCode === null && proc.child.signalCode === null;
}

/**
 * Stops a logged process: SIGTERM to its group, then SIGKILL after `graceMs`. Resolves when it
 * has exited. `graceMs: 0` kills at once (fine when its files are about to be deleted anyway).
 */
export async function stopLogged(proc: LoggedProcess, graceMs: number): Promise<void> {
  if (!isRunning(proc)) return;
  // The child is unref'd; while we wait for its exit it must hold the event loop open, or Node
  // may find nothing left to do and end the awaiting test ("Promise resolution is still pending").
  proc.child.ref();
  if (graceMs <= 0) {
    killGroup(proc.child, "SIGKILL");
    await proc.exited;
    return;
  }
  killGroup(proc.child, "SIGTERM");
  let timer: NodeJS.Timeout | undefined;
  const escalate = new Promise<void>((resolve) => {
    timer = setTimeout(() => {
      killGroup(proc.child, "SIGKILL");
      resolve();
    }, graceMs);
  });
  await Promise.race([proc.exited, escalate]);
  clearTimeout(timer);
  await proc.exited;
  // The JVM may leave children in its group (none known today); make sure the group is gone.
  killPid(proc.pid, "SIGKILL");
}

/** The output of this run of `proc` so far (its log from logStart), "" when unreadable. */
export function readRunLog(proc: LoggedProcess): string {
  try {
    const size = statSync(proc.logFile).size;
    if (size <= proc.logStart) return "";
    const fd = openSync(proc.logFile, "r");
    try {
      const buf = Buffer.alloc(size - proc.logStart);
      const n = readSync(fd, buf, 0, buf.length, proc.logStart);
      return buf.toString("utf8", 0, n);
    } finally {
      closeSync(fd);
    }
  } catch {
    return "";
  }
}

/** Last `maxLines` lines of a log file, or a note saying it cannot be read. */
export function tailFile(path: string, maxLines = 40, maxBytes = 16_384): string {
  try {
    const size = statSync(path).size;
    const fd = openSync(path, "r");
    try {
      const length = Math.min(size, maxBytes);
      const buf = Buffer.alloc(length);
      readSync(fd, buf, 0, length, size - length);
      const lines = buf.toString("utf8").split("\n");
      return lines.slice(-maxLines).join("\n").trimEnd();
    } finally {
      closeSync(fd);
    }
  } catch (err) {
    return `(cannot read ${path}: ${(err as Error).message})`;
  }
}

// ---- registry of what must not outlive us ---------------------------------------------------

/** Pids (group leaders) of processes started and not yet seen exiting. */
const liveProcesses = new Set<number>();
/** Directories to delete if this Node process ends before their sandbox is stopped. */
const ownedDirs = new Set<string>();
let hooksInstalled = false;

/** Registers a directory to be removed on abnormal exit; `release` it after a normal cleanup. */
export function registerOwnedDir(dir: string): void {
  ownedDirs.add(dir);
  installExitHooks();
}

/** Forgets a directory registered with `registerOwnedDir`. */
export function releaseOwnedDir(dir: string): void {
  ownedDirs.delete(dir);
}

/** Pids of the processes this module started that are still running (for tests and leak checks). */
export function livePids(): number[] {
  return [...liveProcesses];
}

/** Kills everything still registered and deletes owned directories, synchronously. */
export function killAllNow(): void {
  const pids = [...liveProcesses];
  for (const pid of pids) killPid(pid, "SIGKILL");
  liveProcesses.clear();
  // SIGKILL is delivered asynchronously; a JVM still writing while we delete its directory would
  // leave files behind. Wait (synchronously: this runs in 'exit') up to 3 s until each process
  // is dead or a zombie; zombies write nothing.
  const deadline = Date.now() + 3000;
  const pause = new Int32Array(new SharedArrayBuffer(4));
  while (pids.some(isAlive) && Date.now() < deadline) Atomics.wait(pause, 0, 0, 20);
  for (const dir of ownedDirs) {
    try {
      rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
    } catch {
      // Best effort on the way out: a JVM may still be writing while the kernel reaps it.
    }
  }
  ownedDirs.clear();
}

let signalHandling = true;

/**
 * Whether the sandbox installs SIGINT/SIGTERM handlers (default true). A program that handles
 * those signals itself, and stops its sandboxes there (the CLI does), turns this off.
 */
export function setSignalHandling(enabled: boolean): void {
  signalHandling = enabled;
  if (!enabled) {
    process.removeListener("SIGINT", onSignal);
    process.removeListener("SIGTERM", onSignal);
  } else if (hooksInstalled) {
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
  }
}

function onSignal(signal: NodeJS.Signals): void {
  killAllNow();
  process.removeListener("SIGINT", onSignal);
  process.removeListener("SIGTERM", onSignal);
  // Without other listeners, re-raise so Node ends the way it would have without us (killed by
  // the signal, exit status 128+n). With other listeners, they own the decision.
  if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
}

function installExitHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  // 'exit' runs after normal completion, after an explicit exit call and after an uncaught
  // exception; only synchronous work is possible there, hence SIGKILL and rmSync.
  process.on("exit", killAllNow);
  if (signalHandling) {
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
  }
}
