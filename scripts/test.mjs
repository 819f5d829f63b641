/* global AbortController */
// The `npm test` driver (runs after `npm run build`):
//  1. fetches the RocketMQ jars of the default version and of the 4.x compatibility version
//     with the compiled sandbox harness (Maven, cached outside the repo), so no test pays for it;
//  2. pass 1: every dist/test/**/*.test.js with the default version;
//     pass 2: the tests that talk to real brokers (dist/test/e2e, dist/test/sandbox) again with
//     RMQ_VERSION=<4.x version>, except files marked "@rmq-test default-version-only";
//     in each pass, when a test file uses useSandbox(), two clusters are started once here and
//     handed to the files in env RMQ_TEST_CLUSTERS (files that restart brokers start their own);
//  3. bounds the whole run in time, kills the runner's process group on timeout or Ctrl-C, and
//     checks that no RocketMQ process started during the run survives it;
//  4. exits with the first non-zero exit code of the runs.
//
// Env: RMQ_TEST_TIMEOUT_MS (whole run, default 40 min), RMQ_TEST_COMPAT_VERSIONS (comma list,
// default 4.9.7; "" disables pass 2), RMQ_VERSION (default version), RMQ_CACHE_DIR (jar cache),
// RMQ_TEST_NAME_PATTERN (only tests whose name matches, node's --test-name-pattern),
// RMQ_TEST_ALL_VERSIONS=1 (pass 2 runs the "@rmq-test default-version-only" files too).
// Arguments: substrings that select test files, e.g. `node scripts/test.mjs sandbox/`.
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { setTimeout } from "node:timers";

const root = resolve(dirname(new URL(import.meta.url).pathname), "..");
const distTest = join(root, "dist", "test");
const harnessPath = join(root, "dist", "src", "sandbox", "index.js");
const started = Date.now();
const timeoutMs = Number(process.env.RMQ_TEST_TIMEOUT_MS ?? 40 * 60_000);
const deadline = started + timeoutMs;
const COMPAT_DIRS = ["e2e", "sandbox"];
const DEFAULT_VERSION_ONLY = "@rmq-test default-version-only";
const SHARED_CLUSTERS = 2;

const log = (message) => process.stderr.write(`[test] ${message}\n`);
const seconds = (ms) => `${(ms / 1000).toFixed(1)} s`;

if (!existsSync(harnessPath)) {
  log(`${relative(root, harnessPath)} is missing: run "npm run build" first (npm test does)`);
  process.exit(1);
}
const harness = await import(harnessPath);
// This driver decides what a signal means (forward to the runner, then clean up), not the harness.
harness.setSignalHandling(false);

const logger = {
  debug: () => undefined,
  info: (fields, message) => log(`${message} ${JSON.stringify(fields)}`),
  warn: (fields, message) => log(`WARN ${message} ${JSON.stringify(fields)}`),
  error: (fields, message) => log(`ERROR ${message} ${JSON.stringify(fields)}`),
};

// Everything the tests create in the temp dir (sandboxes, mqadmin homes) lands in one run
// directory, so a leak is found by looking for processes that reference it.
const runDir = mkdtempSync(join(tmpdir(), "rmq-test-run-"));
let runner; // the current `node --test` child
let sandbox; // the current shared sandbox
let interrupted;
const abort = new AbortController();

function walk(dir) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? walk(path) : name.endsWith(".test.js") ? [path] : [];
  });
}

function selected(files) {
  const filters = process.argv.slice(2);
  return filters.length === 0 ? files : files.filter((f) => filters.some((s) => f.includes(s)));
}

const usesSandbox = (files) => files.some((f) => /\buseSandbox\(/.test(readFileSync(f, "utf8")));

function runTests(files, env) {
  return new Promise((resolvePromise) => {
    const pattern = process.env.RMQ_TEST_NAME_PATTERN;
    const args = [
      "--test",
      "--test-concurrency=1",
      "--enable-source-maps",
      ...(pattern ? [`--test-name-pattern=${pattern}`] : []),
      ...files,
    ];
    // Own process group, so a timeout or signal reaches the runner and every test process.
    runner = spawn(process.execPath, args, { cwd: root, env, stdio: "inherit", detached: true });
    runner.once("exit", (code, signal) => {
      runner = undefined;
      resolvePromise(code ?? (signal ? 128 + 15 : 1));
    });
  });
}

function signalRunner(signal) {
  if (runner?.pid === undefined) return;
  try {
    process.kill(-runner.pid, signal);
  } catch {
    // Already gone.
  }
}

/** Java processes whose command line mentions the run directory: leaked sandbox JVMs. */
function leakedProcesses() {
  const leaks = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const cmdline = readFileSync(`/proc/${name}/cmdline`, "utf8");
      if (cmdline.includes(runDir) && Number(name) !== process.pid) leaks.push(Number(name));
    } catch {
      // Exited meanwhile, or not ours to read.
    }
  }
  return leaks;
}

async function cleanUp() {
  signalRunner("SIGTERM");
  await sandbox?.stop().catch((err) => log(`stopping the shared sandbox failed: ${err.message}`));
  sandbox = undefined;
  harness.killAllNow();
  const leaks = existsSync("/proc") ? leakedProcesses() : [];
  for (const pid of leaks) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // Gone.
    }
  }
  rmSync(runDir, { recursive: true, force: true, maxRetries: 3 });
  return leaks;
}

for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, () => {
    if (interrupted) return;
    interrupted = signal;
    log(`${signal}: stopping the tests`);
    abort.abort();
    signalRunner(signal);
    setTimeout(() => signalRunner("SIGKILL"), 10_000).unref();
  });
}
const watchdog = setTimeout(() => {
  interrupted = "timeout";
  log(`the run exceeded RMQ_TEST_TIMEOUT_MS=${timeoutMs} ms: stopping it`);
  abort.abort();
  signalRunner("SIGTERM");
  setTimeout(() => signalRunner("SIGKILL"), 10_000).unref();
}, timeoutMs);
watchdog.unref();

async function pass(version, files) {
  if (files.length === 0) return 0;
  const env = { ...process.env, RMQ_VERSION: version, TMPDIR: runDir };
  delete env.RMQ_TEST_CLUSTERS;
  if (usesSandbox(files)) {
    const t = Date.now();
    sandbox = await harness.startSandbox({
      clusters: SHARED_CLUSTERS,
      version,
      baseDir: runDir,
      namePrefix: "shared",
      readyTimeoutMs: Math.max(10_000, Math.min(180_000, deadline - Date.now())),
      handleSignals: false,
      signal: abort.signal,
    });
    env.RMQ_TEST_CLUSTERS = JSON.stringify(sandbox.info());
    log(
      `shared clusters (RocketMQ ${version}) ready in ${seconds(Date.now() - t)}: ${env.RMQ_TEST_CLUSTERS}`,
    );
  }
  log(`running ${files.length} test file(s) with RocketMQ ${version}`);
  const code = await runTests(files, env);
  await sandbox?.stop();
  sandbox = undefined;
  return code;
}

let exitCode = 0;
try {
  const defaultVersion = harness.resolveVersion();
  const compat = (process.env.RMQ_TEST_COMPAT_VERSIONS ?? "4.9.7")
    .split(",")
    .map((v) => v.trim())
    .filter((v) => v && v !== defaultVersion);
  for (const version of [defaultVersion, ...compat]) {
    if (interrupted) break;
    const t = Date.now();
    const dist = await harness.ensureDistribution({ version, logger, signal: abort.signal });
    log(`RocketMQ ${version} jars: ${dist.libDir} (${seconds(Date.now() - t)})`);
  }

  if (interrupted) throw new Error(`interrupted (${interrupted})`);
  const all = selected(walk(distTest)).sort();
  if (all.length === 0) log("no test files selected");
  exitCode = await pass(defaultVersion, all);
  // A file that says DEFAULT_VERSION_ONLY in its first comment runs in pass 1 only: what it
  // proves does not depend on the broker's version, and pass 2 has no time to spare.
  const compatFiles = all.filter(
    (f) =>
      COMPAT_DIRS.some((d) => relative(distTest, f).startsWith(`${d}/`)) &&
      (process.env.RMQ_TEST_ALL_VERSIONS === "1" ||
        !readFileSync(f, "utf8").slice(0, 4000).includes(DEFAULT_VERSION_ONLY)),
  );
  for (const version of compat) {
    if (interrupted) break;
    const code = await pass(version, compatFiles);
    if (exitCode === 0) exitCode = code;
  }
} catch (err) {
  log(`${err.code ?? err.name}: ${err.message}`);
  exitCode = 1;
} finally {
  const leaks = await cleanUp();
  if (leaks.length > 0) {
    log(
      `FAIL: ${leaks.length} process(es) started by the tests were still running (pids ${leaks.join(", ")}); killed them`,
    );
    if (exitCode === 0) exitCode = 1;
  }
  if (interrupted && exitCode === 0) exitCode = 1;
  log(`done in ${seconds(Date.now() - started)}, exit code ${exitCode}`);
}
process.exitCode = exitCode;
