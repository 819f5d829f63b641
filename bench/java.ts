/**
 * Compiles and runs bench/java/JavaClientBench.java: the official rocketmq-client doing the same
 * work as bench/ours.ts. The class is compiled once per (source, RocketMQ version) into the jar
 * cache, `<cacheRoot>/bench/<hash>/`, never into the repository.
 */
import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { cacheRoot, type Distribution } from "../src/sandbox/index.js";
import type { PhaseResult } from "./stats.js";

const CLASS = "JavaClientBench";

/** The Java source, found from both dist/bench/ (compiled) and bench/ (source) locations. */
function sourcePath(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [
    resolve(here, "java", `${CLASS}.java`),
    resolve(here, "..", "..", "bench", "java", `${CLASS}.java`),
  ];
  const found = candidates.find((p) => existsSync(p));
  if (!found) throw new Error(`cannot find ${CLASS}.java (looked in ${candidates.join(", ")})`);
  return found;
}

function jdkTool(name: "java" | "javac"): string {
  const home = process.env["JAVA_HOME"];
  return home ? join(home, "bin", name) : name;
}

export interface JavaBench {
  /** Directory holding JavaClientBench.class. */
  classDir: string;
  distribution: Distribution;
  /** Scratch directory used as the JVMs' user.home (the client writes its logs there). */
  homeDir: string;
}

/** Compiles the Java bench against the distribution's jars unless already cached. */
export function compileJavaBench(distribution: Distribution, scratchDir: string): JavaBench {
  const source = sourcePath();
  const text = readFileSync(source);
  const hash = createHash("sha256").update(text).update(distribution.version).digest("hex").slice(0, 16);
  const classDir = join(cacheRoot(), "bench", `${CLASS}-${distribution.version}-${hash}`);
  const homeDir = join(scratchDir, "java-home");
  mkdirSync(homeDir, { recursive: true });
  if (existsSync(join(classDir, `${CLASS}.class`))) return { classDir, distribution, homeDir };
  mkdirSync(dirname(classDir), { recursive: true });
  const tmp = mkdtempSync(`${classDir}.tmp-`);
  try {
    const run = spawnSync(jdkTool("javac"), ["-nowarn", "-d", tmp, "-cp", distribution.classpath, source], {
      encoding: "utf8",
      timeout: 120_000,
    });
    if (run.error) throw new Error(`cannot run javac (a JDK 17+ is needed): ${run.error.message}`);
    if (run.status !== 0) throw new Error(`javac failed for ${source}:\n${run.stderr}${run.stdout}`);
    try {
      renameSync(tmp, classDir);
    } catch (err) {
      // A concurrent bench compiled the same source first.
      if (!existsSync(join(classDir, `${CLASS}.class`))) throw err;
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return { classDir, distribution, homeDir };
}

export type JavaMode = "send-single" | "send-batch" | "pull";

export interface JavaRunOptions {
  namesrv: string;
  topic: string;
  mode: JavaMode;
  count: number;
  size: number;
  concurrency: number;
  batch: number;
  pullBatch: number;
  warmupTopic: string;
  warmup: number;
  /** Measuring deadline inside the JVM; the process is killed at this plus `graceMs`. */
  deadlineMs: number;
  /** Time for JVM start, warm-up and shutdown on top of the deadline. Default 120 000 ms. */
  graceMs?: number;
  group: string;
}

interface JavaJson {
  messages: number;
  elapsedMs: number;
  latencyP50Ms: number | null;
  latencyP99Ms: number | null;
  peakRssMiB: number;
  timedOut: boolean;
  errors: number;
  firstError: string | null;
}

/** Runs one mode in a fresh JVM and returns its figures. Throws when the JVM fails or hangs. */
export async function runJavaBench(bench: JavaBench, o: JavaRunOptions): Promise<PhaseResult> {
  const extra = (process.env["BENCH_JAVA_OPTS"] ?? "").split(/\s+/).filter((a) => a.length > 0);
  const args = [
    // The client as users run it: default heap and collector; only its files are moved away.
    `-Duser.home=${bench.homeDir}`,
    `-Djava.io.tmpdir=${bench.homeDir}`,
    "-XX:-UsePerfData",
    "-Dlogback.statusListenerClass=org.apache.rocketmq.logging.ch.qos.logback.core.status.NopStatusListener",
    ...extra,
    "-cp",
    `${bench.classDir}:${bench.distribution.classpath}`,
    CLASS,
    o.namesrv,
    o.topic,
    o.mode,
    String(o.count),
    String(o.size),
    `--concurrency=${o.concurrency}`,
    `--batch=${o.batch}`,
    `--pull-batch=${o.pullBatch}`,
    `--warmup-topic=${o.warmupTopic}`,
    `--warmup=${o.warmup}`,
    `--deadline-ms=${o.deadlineMs}`,
    `--group=${o.group}`,
  ];
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env["JAVA_TOOL_OPTIONS"];
  delete env["NAMESRV_ADDR"];
  const child = spawn(jdkTool("java"), args, { env, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
  child.stderr.setEncoding("utf8").on("data", (d: string) => {
    stderr = (stderr + d).slice(-8000);
  });
  const limitMs = o.deadlineMs + (o.graceMs ?? 120_000);
  const timer = setTimeout(() => child.kill("SIGKILL"), limitMs);
  const code = await new Promise<number | null>((resolveExit, reject) => {
    child.once("error", reject);
    child.once("close", (c, signal) => resolveExit(signal ? null : c));
  }).finally(() => clearTimeout(timer));
  const line = stdout
    .split("\n")
    .reverse()
    .find((l) => l.startsWith("{"));
  if (code !== 0 || line === undefined) {
    const how = code === null ? `was killed after ${limitMs} ms` : `exited with code ${code}`;
    throw new Error(
      `Java bench ${o.mode} ${how}:\n${(stderr + stdout).trim().split("\n").slice(-20).join("\n")}`,
    );
  }
  const j = JSON.parse(line) as JavaJson;
  return {
    messages: j.messages,
    elapsedMs: j.elapsedMs,
    latencyP50Ms: j.latencyP50Ms ?? undefined,
    latencyP99Ms: j.latencyP99Ms ?? undefined,
    peakRssMiB: j.peakRssMiB,
    timedOut: j.timedOut,
    errors: j.errors,
    firstError: j.firstError ?? undefined,
  };
}
