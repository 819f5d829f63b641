/**
 * `startSandbox({ clusters: N })`: N independent RocketMQ clusters (one NameServer + one Broker
 * each) on loopback, for tests, benchmarks and demos. Every process and directory it creates is
 * removed by `stop()`, and also if the Node process ends first (see process.ts).
 */
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { silentLogger, type Logger } from "../client/logger.js";
import { ensureDistribution, type Distribution } from "./distribution.js";
import { generateAdminCredentials } from "./acl-config.js";
import type { ClusterSecurityInfo } from "./client-options.js";
import { LocalCluster, type ClusterInfo, type ClusterSecurity } from "./cluster.js";
import { SandboxError, SandboxErrorCode } from "./errors.js";
import { javaArgs, javaEnv, prepareHome } from "./jvm.js";
import { registerOwnedDir, releaseOwnedDir, runCommand, setSignalHandling } from "./process.js";
import { clientTlsProperties, generateCertificates } from "./tls.js";
import { javaCommand } from "./distribution.js";

export interface SandboxOptions {
  /** Number of independent clusters. Default 1. */
  clusters?: number;
  /** RocketMQ version; default env RMQ_VERSION, else DEFAULT_ROCKETMQ_VERSION (5.5.0). */
  version?: string;
  /** Parent of the sandbox's own temporary directory. Default os.tmpdir(). */
  baseDir?: string;
  /** Jar cache root; default env RMQ_CACHE_DIR or ~/.cache/rocketmq-connector. */
  cacheDir?: string;
  /** Prefix of cluster names: c -> c1, c2, ... Default "c". */
  namePrefix?: string;
  /** Deadline for each process to become ready, ms. Default 120 000. */
  readyTimeoutMs?: number;
  /**
   * Turn ACL on (4.9.x: ACL 1.0, plain_acl.yml; 5.x: ACL 2.0), with an admin / super user whose
   * secret is random per run; ClusterInfo.acl carries it. Accounts: setAccount (acl.ts).
   */
  acl?: boolean;
  /**
   * Enforce TLS on every NameServer and broker port, with a CA and server certificate made per
   * run by openssl (needs it on PATH); ClusterInfo.tls.caFile is the CA to trust.
   */
  tls?: boolean;
  /**
   * Install SIGINT/SIGTERM handlers that kill the processes and delete the directories before
   * Node ends (default true). Programs that handle these signals and call stop() themselves
   * pass false.
   */
  handleSignals?: boolean;
  logger?: Logger;
  /** Aborting stops whatever was started and rejects with RMQ_SANDBOX_STOPPED. */
  signal?: AbortSignal;
}

export interface MqadminOptions {
  /** Time limit in ms. Default 60 000. */
  timeoutMs?: number;
  signal?: AbortSignal;
  /**
   * Credentials and CA of a secured cluster (a ClusterInfo will do): mqadmin then signs with
   * the credentials (conf/tools.yml in its home) and speaks TLS trusting only that CA.
   */
  security?: ClusterSecurityInfo;
}

export interface Sandbox {
  readonly clusters: readonly LocalCluster[];
  readonly distribution: Distribution;
  /** The sandbox's directory; removed by stop(). */
  readonly dir: string;
  /** Plain descriptions of the clusters (JSON-friendly). */
  info(): ClusterInfo[];
  /**
   * Runs the RocketMQ admin tool (MQAdminStartup) of the same version, e.g.
   * `mqadmin(["sendMessage", "-n", ns, "-t", topic, "-p", body])`; resolves with its stdout.
   * @throws SandboxError RMQ_SANDBOX_COMMAND_FAILED on a non-zero exit or timeout.
   */
  mqadmin(args: readonly string[], options?: MqadminOptions): Promise<string>;
  /** Kills every process and removes the directory. Idempotent. */
  stop(): Promise<void>;
}

/**
 * Fetches the jars if needed and starts the clusters in parallel; resolves when every broker is
 * routable through its NameServer. On failure, whatever was started is stopped and removed.
 * @throws SandboxError (RMQ_SANDBOX_*), see errors.ts.
 */
export async function startSandbox(options: SandboxOptions = {}): Promise<Sandbox> {
  const count = options.clusters ?? 1;
  if (!Number.isInteger(count) || count < 1 || count > 16) {
    throw new SandboxError(
      SandboxErrorCode.START_FAILED,
      `clusters must be an integer from 1 to 16, got ${count}`,
    );
  }
  const logger = options.logger ?? silentLogger;
  if (options.handleSignals === false) setSignalHandling(false);
  const distribution = await ensureDistribution({
    logger,
    ...(options.version === undefined ? {} : { version: options.version }),
    ...(options.cacheDir === undefined ? {} : { cacheDir: options.cacheDir }),
    ...(options.signal === undefined ? {} : { signal: options.signal }),
  });
  const parent = options.baseDir ?? tmpdir();
  mkdirSync(parent, { recursive: true });
  const dir = mkdtempSync(join(parent, "rmq-sandbox-"));
  registerOwnedDir(dir);
  const prefix = options.namePrefix ?? "c";
  let security: ClusterSecurity;
  try {
    security = {
      ...(options.acl ? { acl: generateAdminCredentials() } : {}),
      ...(options.tls ? { tls: await generateCertificates(join(dir, "tls"), options.signal) } : {}),
    };
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    releaseOwnedDir(dir);
    throw err;
  }
  const clusters = Array.from({ length: count }, (_, i) => {
    const name = `${prefix}${i + 1}`;
    return new LocalCluster({
      name,
      clusterName: `${name}-cluster`,
      brokerName: `${name}-broker`,
      dir: join(dir, name),
      distribution,
      logger,
      security,
      ...(options.readyTimeoutMs === undefined ? {} : { readyTimeoutMs: options.readyTimeoutMs }),
    });
  });

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      await Promise.all(clusters.map((c) => c.stop()));
      rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
      releaseOwnedDir(dir);
      logger.info({ dir }, "sandbox stopped");
    })();
    return stopping;
  };

  const started = Date.now();
  logger.info(
    {
      clusters: count,
      version: distribution.version,
      dir,
      acl: options.acl === true,
      tls: options.tls === true,
    },
    "starting sandbox",
  );
  const results = await Promise.allSettled(clusters.map((c) => c.start(options.signal)));
  const failure = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
  if (failure) {
    await stop();
    throw failure.reason;
  }
  logger.info({ clusters: count, version: distribution.version, ms: Date.now() - started }, "sandbox ready");

  return {
    clusters,
    distribution,
    dir,
    info: () => clusters.map((c) => c.info()),
    // The sandbox's own mqadmin signs as the admin and trusts the sandbox CA unless told otherwise.
    mqadmin: (args, mqOptions = {}) =>
      runMqadmin(distribution, join(dir, "mqadmin"), args, {
        security: {
          ...(security.acl ? { acl: security.acl } : {}),
          ...(security.tls ? { tls: { caFile: security.tls.caFile } } : {}),
        },
        ...mqOptions,
      }),
    stop,
  };
}

/**
 * Runs MQAdminStartup of `distribution` with `args`, with its own home under `homeDir`.
 * Resolves with stdout. Exported for tools that have a distribution but no sandbox.
 * @throws SandboxError RMQ_SANDBOX_COMMAND_FAILED / RMQ_SANDBOX_JAVA_MISSING.
 */
export async function runMqadmin(
  distribution: Distribution,
  homeDir: string,
  args: readonly string[],
  options: MqadminOptions = {},
): Promise<string> {
  prepareHome(distribution, homeDir);
  const tls = clientTlsProperties(homeDir, options.security?.tls?.caFile);
  writeToolsYml(homeDir, options.security?.acl);
  const java = javaCommand();
  let result;
  try {
    result = await runCommand(java, javaArgs(distribution, "mqadmin", homeDir, args, tls), {
      cwd: homeDir,
      env: javaEnv(homeDir),
      timeoutMs: options.timeoutMs ?? 60_000,
      ...(options.signal ? { signal: options.signal } : {}),
    });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") {
      throw new SandboxError(
        SandboxErrorCode.JAVA_MISSING,
        `cannot run mqadmin: "${java}" not found (install Java 17+ or set JAVA_HOME)`,
        { cause: err },
      );
    }
    throw err;
  }
  // MQAdminStartup prints failures and still exits 0 for many subcommands; callers check stdout.
  if (result.exitCode !== 0) {
    const how = result.signal
      ? `was killed (${result.signal}; time limit ${options.timeoutMs ?? 60_000} ms)`
      : `exited with code ${result.exitCode}`;
    const tail = `${result.stdout}\n${result.stderr}`.trim().split("\n").slice(-20).join("\n");
    throw new SandboxError(SandboxErrorCode.COMMAND_FAILED, `mqadmin ${args[0] ?? ""} ${how}:\n${tail}`, {
      context: { args: [...args] },
    });
  }
  return result.stdout;
}

/**
 * MQAdminStartup signs every request with the account in ${rocketmq.home.dir}/conf/tools.yml
 * (AclUtils.getAclRPCHook), in 4.9.x and 5.x alike; without the file it sends unsigned. The
 * file is rewritten (or removed) on every run: one home may serve clusters with other admins.
 */
function writeToolsYml(homeDir: string, acl: ClusterSecurityInfo["acl"]): void {
  const file = join(homeDir, "conf", "tools.yml");
  if (acl === undefined) {
    rmSync(file, { force: true });
    return;
  }
  // JSON strings are valid YAML scalars, so any key or secret is quoted safely.
  writeFileSync(
    file,
    `accessKey: ${JSON.stringify(acl.accessKey)}\nsecretKey: ${JSON.stringify(acl.secretKey)}\n`,
    {
      mode: 0o600,
    },
  );
}
