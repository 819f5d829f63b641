/**
 * The RocketMQ NameServer, Broker and admin tool as jars from Maven Central, cached outside the
 * repository: `${RMQ_CACHE_DIR:-${XDG_CACHE_HOME:-~/.cache}/rocketmq-connector}/rocketmq-<version>/lib`.
 *
 * The fetch writes a throw-away pom (packaging=pom, dependencies rocketmq-namesrv, -broker, -tools)
 * and runs `mvn dependency:copy-dependencies` into a temporary sibling directory that is renamed
 * into place only when Maven succeeded, so a fetch killed half-way is never taken for a complete
 * one, and two concurrent fetches of one version both end up using one complete directory.
 */
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { silentLogger, type Logger } from "../client/logger.js";
import { SandboxError, SandboxErrorCode } from "./errors.js";
import { runCommand } from "./process.js";

/** The RocketMQ version used when neither the `version` option nor env RMQ_VERSION says otherwise. */
export const DEFAULT_ROCKETMQ_VERSION = "5.5.0";

/** Artifacts fetched; their jars must be present for a cache directory to count as complete. */
const ARTIFACTS = ["rocketmq-namesrv", "rocketmq-broker", "rocketmq-tools"] as const;

/** A complete local RocketMQ distribution: just the jars, used as `-cp <libDir>/*`. */
export interface Distribution {
  version: string;
  /** 4 or 5: the two lines differ in JVM flags, logging setup and broker keys. */
  major: number;
  libDir: string;
  /** Java classpath: every jar of libDir. */
  classpath: string;
}

/** The version to use: explicit option, else env RMQ_VERSION, else DEFAULT_ROCKETMQ_VERSION. */
export function resolveVersion(version?: string, env: NodeJS.ProcessEnv = process.env): string {
  const v = version ?? (env["RMQ_VERSION"] || undefined) ?? DEFAULT_ROCKETMQ_VERSION;
  // The version ends up in a path and a pom; accept only what Maven versions look like.
  if (!/^\d+\.\d+\.\d+[\w.-]*$/.test(v)) {
    throw new SandboxError(
      SandboxErrorCode.FETCH_FAILED,
      `invalid RocketMQ version "${v}" (expected e.g. 5.5.0)`,
    );
  }
  return v;
}

/** Root of the jar cache: env RMQ_CACHE_DIR, else `${XDG_CACHE_HOME:-~/.cache}/rocketmq-connector`. */
export function cacheRoot(env: NodeJS.ProcessEnv = process.env): string {
  const explicit = env["RMQ_CACHE_DIR"];
  if (explicit) return explicit;
  const xdg = env["XDG_CACHE_HOME"];
  return join(xdg ? xdg : join(homedir(), ".cache"), "rocketmq-connector");
}

/** The `java` executable: `$JAVA_HOME/bin/java` when JAVA_HOME is set, else `java` from PATH. */
export function javaCommand(env: NodeJS.ProcessEnv = process.env): string {
  const home = env["JAVA_HOME"];
  return home ? join(home, "bin", "java") : "java";
}

function majorOf(version: string): number {
  return Number.parseInt(version.split(".")[0] ?? "", 10);
}

function distributionAt(version: string, dir: string): Distribution {
  const libDir = join(dir, "lib");
  return { version, major: majorOf(version), libDir, classpath: join(libDir, "*") };
}

function isComplete(version: string, dir: string): boolean {
  const libDir = join(dir, "lib");
  if (!existsSync(libDir)) return false;
  const jars = new Set(readdirSync(libDir));
  return ARTIFACTS.every((a) => jars.has(`${a}-${version}.jar`));
}

export interface EnsureDistributionOptions {
  /** RocketMQ version; default env RMQ_VERSION or DEFAULT_ROCKETMQ_VERSION. */
  version?: string;
  /** Cache root; default `cacheRoot()`. */
  cacheDir?: string;
  logger?: Logger;
  /** Maven's time limit in ms. Default 15 minutes (a cold ~100 MB download). */
  timeoutMs?: number;
  signal?: AbortSignal;
}

/**
 * Returns the cached distribution of the version, fetching it with Maven first if needed.
 * @throws SandboxError RMQ_SANDBOX_MAVEN_MISSING when `mvn` is not on PATH,
 *   RMQ_SANDBOX_FETCH_FAILED when Maven fails (the message names the version and the artifact).
 */
export async function ensureDistribution(options: EnsureDistributionOptions = {}): Promise<Distribution> {
  const version = resolveVersion(options.version);
  const logger = options.logger ?? silentLogger;
  const root = options.cacheDir ?? cacheRoot();
  const finalDir = join(root, `rocketmq-${version}`);
  if (isComplete(version, finalDir)) return distributionAt(version, finalDir);

  mkdirSync(root, { recursive: true });
  const tmpDir = join(root, `.rocketmq-${version}.tmp-${process.pid}-${randomBytes(4).toString("hex")}`);
  mkdirSync(tmpDir);
  try {
    writeFileSync(join(tmpDir, "pom.xml"), pomFor(version));
    const started = Date.now();
    logger.info({ version, dir: finalDir }, "fetching RocketMQ jars with Maven");
    let result;
    try {
      result = await runCommand(
        "mvn",
        [
          "-B",
          "-q",
          "-f",
          join(tmpDir, "pom.xml"),
          "dependency:copy-dependencies",
          `-DoutputDirectory=${join(tmpDir, "lib")}`,
          "-DincludeScope=runtime",
        ],
        {
          cwd: tmpDir,
          timeoutMs: options.timeoutMs ?? 900_000,
          ...(options.signal ? { signal: options.signal } : {}),
        },
      );
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") {
        throw new SandboxError(
          SandboxErrorCode.MAVEN_MISSING,
          `cannot fetch RocketMQ ${version}: "mvn" is not on PATH (install Maven 3.8+ with access to Maven Central)`,
          { cause: err },
        );
      }
      throw err;
    }
    if (result.exitCode !== 0) {
      const output = `${result.stdout}\n${result.stderr}`;
      const why = result.signal ? `Maven was stopped (${result.signal})` : describeMavenFailure(output);
      throw new SandboxError(
        SandboxErrorCode.FETCH_FAILED,
        `cannot fetch RocketMQ ${version} from Maven Central: ${why}`,
        {
          context: { version, mavenOutput: lastLines(output, 30) },
        },
      );
    }
    if (!isComplete(version, tmpDir)) {
      throw new SandboxError(
        SandboxErrorCode.FETCH_FAILED,
        `cannot fetch RocketMQ ${version}: Maven succeeded but ${ARTIFACTS.map((a) => `${a}-${version}.jar`).join(", ")} are not all in ${join(tmpDir, "lib")}`,
      );
    }
    try {
      renameSync(tmpDir, finalDir);
    } catch (err) {
      // Another process finished the same fetch first: use its copy.
      if (!isComplete(version, finalDir)) throw err;
    }
    logger.info({ version, dir: finalDir, ms: Date.now() - started }, "fetched RocketMQ jars");
    return distributionAt(version, finalDir);
  } finally {
    rmSync(tmpDir, { recursive: true, force: true });
  }
}

/** ANSI colour sequences (ESC [ ... m), which Maven may print even in batch mode. */
const ANSI_COLOR = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, "g");

/**
 * Picks the line that says what failed, e.g. "Could not find artifact
 * org.apache.rocketmq:rocketmq-namesrv:jar:5.5.1 in central", from Maven's output.
 */
export function describeMavenFailure(output: string): string {
  const clean = output.replace(ANSI_COLOR, "");
  const artifact =
    /Could not (?:find|transfer) artifact (\S+)/.exec(clean) ?? /Failure to find (\S+)/.exec(clean);
  if (artifact?.[1]) {
    const unresolved = /could not be resolved: ([^:]+(?::[^:,\s]+){3,4}(?:, [^:]+(?::[^:,\s]+){3,4})*)/.exec(
      clean,
    );
    return `artifact ${artifact[1]} could not be resolved${unresolved?.[1] ? ` (unresolved: ${unresolved[1]})` : ""}`;
  }
  const error = clean.split("\n").find((l) => l.startsWith("[ERROR]") && l.trim() !== "[ERROR]");
  return error ? error.replace(/^\[ERROR\]\s*/, "") : `Maven failed:\n${lastLines(clean, 15)}`;
}

function lastLines(text: string, n: number): string {
  return text.trimEnd().split("\n").slice(-n).join("\n");
}

function pomFor(version: string): string {
  const deps = ARTIFACTS.map(
    (a) =>
      `    <dependency><groupId>org.apache.rocketmq</groupId><artifactId>${a}</artifactId><version>${version}</version></dependency>`,
  ).join("\n");
  return `<?xml version="1.0" encoding="UTF-8"?>
<!-- Written by rocketmq-connector's sandbox to fetch the RocketMQ ${version} jars; safe to delete. -->
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.rocketmq-connector</groupId>
  <artifactId>rocketmq-sandbox-${version}</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
${deps}
  </dependencies>
</project>
`;
}
