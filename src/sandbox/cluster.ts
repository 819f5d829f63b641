/**
 * One local RocketMQ cluster: a NameServer and a Broker as child JVMs, each in its own directory
 * (home, config, store, out.log), on free loopback ports. Restarting a broker reuses its ports,
 * store and directory, so what was written survives like on a real machine.
 */
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { silentLogger, type Logger } from "../client/logger.js";
import type { Credentials } from "../client/rocketmq-client.js";
import { aclBrokerProperties5, initialPlainAcl, PLAIN_ACL_PATH, writePlainAcl } from "./acl-config.js";
import { javaCommand, type Distribution } from "./distribution.js";
import { SandboxError, SandboxErrorCode } from "./errors.js";
import {
  brokerProperties,
  javaArgs,
  javaEnv,
  namesrvProperties,
  prepareHome,
  propertiesText,
  type Role,
} from "./jvm.js";
import { allocateBrokerPort, allocateNamesrvPort, BROKER_PORT_OFFSETS, releasePorts } from "./ports.js";
import { probeCluster } from "./probe.js";
import { isRunning, readRunLog, spawnLogged, stopLogged, tailFile, type LoggedProcess } from "./process.js";
import { serverTlsProperties, type SandboxCertificates } from "./tls.js";

/** Plain description of a running cluster (what the CLI prints and tests pass around). */
export interface ClusterInfo {
  /** Sandbox-local name: c1, c2, ... */
  name: string;
  /** NameServer address, "127.0.0.1:PORT". */
  namesrv: string;
  /** Master broker address as registered in routes, "127.0.0.1:PORT". */
  brokerAddr: string;
  brokerName: string;
  clusterName: string;
  /** RocketMQ version of the jars. */
  version: string;
  /** ACL sandboxes: the admin (4.9.x) or super-user (5.x) credentials, for signing admin work. */
  acl?: { accessKey: string; secretKey: string };
  /** 4.9.x ACL sandboxes: absolute path of the broker's plain_acl.yml (see acl.ts setAccount). */
  aclFile?: string;
  /** TLS sandboxes: absolute path of the CA certificate (PEM) that clients must trust. */
  tls?: { caFile: string };
}

/** How a cluster is secured; both parts optional and independent. */
export interface ClusterSecurity {
  /** Turn ACL on with this account as admin / super user. */
  acl?: Credentials;
  /** Enforce TLS on every server port with these certificates. */
  tls?: SandboxCertificates;
}

export interface LocalClusterOptions {
  name: string;
  clusterName: string;
  brokerName: string;
  /** Directory of this cluster; created, not removed (the sandbox removes its base dir). */
  dir: string;
  distribution: Distribution;
  logger?: Logger;
  /** Deadline for each process to become ready, ms. Default 120 000. */
  readyTimeoutMs?: number;
  /** ACL and/or TLS; a plain cluster without. */
  security?: ClusterSecurity;
}

export interface StopProcessOptions {
  /** SIGTERM grace before SIGKILL, ms. 0 kills at once (a crash). Default 20 000. */
  graceMs?: number;
}

const NAMESRV_BOOT = /The Name Server boot success/;
const BROKER_BOOT = /The broker\[[^\]]*\] boot success/;
const BIND_CONFLICT = /Address already in use|BindException/;
/** Attempts with fresh ports when a port picked as free was taken before the JVM bound it. */
const PORT_ATTEMPTS = 3;

/** One NameServer + one Broker, started and stopped as child JVMs. */
export class LocalCluster {
  readonly name: string;
  readonly clusterName: string;
  readonly brokerName: string;
  readonly dir: string;
  readonly distribution: Distribution;
  readonly #logger: Logger;
  readonly #readyTimeoutMs: number;
  readonly #security: ClusterSecurity;
  #namesrvPort = 0;
  #brokerPort = 0;
  #namesrv: LoggedProcess | undefined;
  #broker: LoggedProcess | undefined;
  #stopped = false;

  constructor(options: LocalClusterOptions) {
    this.name = options.name;
    this.clusterName = options.clusterName;
    this.brokerName = options.brokerName;
    this.dir = options.dir;
    this.distribution = options.distribution;
    this.#logger = options.logger ?? silentLogger;
    this.#readyTimeoutMs = options.readyTimeoutMs ?? 120_000;
    this.#security = options.security ?? {};
  }

  /** "127.0.0.1:PORT" of the NameServer (valid once started; stable across restarts). */
  get namesrv(): string {
    return `127.0.0.1:${this.#namesrvPort}`;
  }

  /** "127.0.0.1:PORT" of the broker (valid once started; stable across restarts). */
  get brokerAddr(): string {
    return `127.0.0.1:${this.#brokerPort}`;
  }

  /** Every port the cluster binds: NameServer, and the broker's fast, main and HA ports. */
  get ports(): number[] {
    return [this.#namesrvPort, ...BROKER_PORT_OFFSETS.map((o) => this.#brokerPort + o)];
  }

  /** Pid of the NameServer JVM while it runs (undefined once it exited, killed by a signal too). */
  get namesrvPid(): number | undefined {
    return this.#namesrv !== undefined && isRunning(this.#namesrv) ? this.#namesrv.pid : undefined;
  }

  /** Pid of the broker JVM while it runs (undefined once it exited, killed by a signal too). */
  get brokerPid(): number | undefined {
    return this.#broker !== undefined && isRunning(this.#broker) ? this.#broker.pid : undefined;
  }

  get namesrvDir(): string {
    return join(this.dir, "namesrv");
  }

  get brokerDir(): string {
    return join(this.dir, "broker");
  }

  /** Where the broker's commit log and queues live (kept across broker restarts). */
  get storeDir(): string {
    return join(this.brokerDir, "store");
  }

  /** The broker's plain_acl.yml (4.9.x ACL clusters only). */
  get aclFile(): string | undefined {
    return this.#security.acl && this.distribution.major < 5
      ? join(this.brokerDir, PLAIN_ACL_PATH)
      : undefined;
  }

  info(): ClusterInfo {
    const { acl, tls } = this.#security;
    const aclFile = this.aclFile;
    return {
      name: this.name,
      namesrv: this.namesrv,
      brokerAddr: this.brokerAddr,
      brokerName: this.brokerName,
      clusterName: this.clusterName,
      version: this.distribution.version,
      ...(acl ? { acl: { accessKey: acl.accessKey, secretKey: acl.secretKey } } : {}),
      ...(aclFile ? { aclFile } : {}),
      ...(tls ? { tls: { caFile: tls.caFile } } : {}),
    };
  }

  /** What the readiness probe needs to sign and to trust the servers. */
  #probeSecurity(): Pick<ClusterInfo, "acl" | "tls"> {
    const { acl, tls } = this.#security;
    return { ...(acl ? { acl } : {}), ...(tls ? { tls: { caFile: tls.caFile } } : {}) };
  }

  /**
   * Starts the NameServer, then the broker, and waits until the broker is routable.
   * @throws SandboxError RMQ_SANDBOX_START_FAILED / RMQ_SANDBOX_NOT_READY with the log tail.
   */
  async start(signal?: AbortSignal): Promise<void> {
    await this.startNamesrv(signal);
    await this.startBroker(signal);
  }

  /** Starts (or restarts) the NameServer on its port and waits until it answers requests. */
  async startNamesrv(signal?: AbortSignal): Promise<void> {
    this.#assertRunnable("start the NameServer");
    if (this.namesrvPid !== undefined) return;
    const firstStart = this.#namesrvPort === 0;
    for (let attempt = 1; ; attempt++) {
      if (firstStart && this.#namesrvPort === 0) this.#namesrvPort = allocateNamesrvPort();
      const dir = this.namesrvDir;
      mkdirSync(dir, { recursive: true });
      prepareHome(this.distribution, dir);
      writeFileSync(join(dir, "namesrv.conf"), propertiesText(namesrvProperties(this.#namesrvPort)));
      const started = Date.now();
      this.#namesrv = await this.#spawn("namesrv", dir, ["-c", join(dir, "namesrv.conf")]);
      try {
        await this.#waitForBoot(this.#namesrv, "NameServer", NAMESRV_BOOT, signal);
        const bootMs = Date.now() - started;
        await probeCluster({
          namesrv: this.namesrv,
          ...this.#probeSecurity(),
          timeoutMs: this.#readyTimeoutMs,
          failFast: this.#exitReason(this.#namesrv),
          ...(signal ? { signal } : {}),
        });
        this.#logger.info(
          {
            cluster: this.name,
            namesrv: this.namesrv,
            pid: this.#namesrv.pid,
            bootMs,
            ms: Date.now() - started,
          },
          "NameServer ready",
        );
        return;
      } catch (err) {
        const proc = this.#namesrv;
        await stopLogged(proc, 0);
        if (firstStart && attempt < PORT_ATTEMPTS && isBindConflict(proc)) {
          this.#logger.warn(
            { cluster: this.name, port: this.#namesrvPort },
            "NameServer port taken meanwhile, retrying with another",
          );
          this.#namesrvPort = 0;
          continue;
        }
        throw withLog(err, proc);
      }
    }
  }

  /** Starts (or restarts) the broker with its store and ports, and waits until it is routable. */
  async startBroker(signal?: AbortSignal): Promise<void> {
    this.#assertRunnable("start the broker");
    if (this.brokerPid !== undefined) return;
    const firstStart = this.#brokerPort === 0;
    for (let attempt = 1; ; attempt++) {
      if (firstStart && this.#brokerPort === 0) this.#brokerPort = allocateBrokerPort();
      const dir = this.brokerDir;
      mkdirSync(dir, { recursive: true });
      prepareHome(this.distribution, dir);
      const props = brokerProperties(this.distribution, {
        clusterName: this.clusterName,
        brokerName: this.brokerName,
        namesrv: this.namesrv,
        listenPort: this.#brokerPort,
        storeDir: this.storeDir,
      });
      Object.assign(props, this.#aclBrokerProperties(dir));
      writeFileSync(join(dir, "broker.conf"), propertiesText(props));
      const started = Date.now();
      this.#broker = await this.#spawn("broker", dir, ["-c", join(dir, "broker.conf")]);
      try {
        await this.#waitForBoot(this.#broker, "broker", BROKER_BOOT, signal);
        const bootMs = Date.now() - started;
        await probeCluster({
          namesrv: this.namesrv,
          brokerName: this.brokerName,
          brokerAddr: this.brokerAddr,
          ...this.#probeSecurity(),
          timeoutMs: this.#readyTimeoutMs,
          failFast: this.#exitReason(this.#broker),
          logger: this.#logger,
          ...(signal ? { signal } : {}),
        });
        this.#logger.info(
          {
            cluster: this.name,
            broker: this.brokerAddr,
            pid: this.#broker.pid,
            bootMs,
            ms: Date.now() - started,
          },
          "broker ready",
        );
        return;
      } catch (err) {
        const proc = this.#broker;
        await stopLogged(proc, 0);
        if (firstStart && attempt < PORT_ATTEMPTS && isBindConflict(proc)) {
          this.#logger.warn(
            { cluster: this.name, port: this.#brokerPort },
            "broker port taken meanwhile, retrying with another",
          );
          this.#brokerPort = 0;
          continue;
        }
        throw withLog(err, proc);
      }
    }
  }

  /** Stops the broker (SIGTERM, SIGKILL after graceMs). Ports and store are kept for a restart. */
  async stopBroker(options: StopProcessOptions = {}): Promise<void> {
    if (this.#broker === undefined) return;
    await stopLogged(this.#broker, options.graceMs ?? 20_000);
    this.#logger.info({ cluster: this.name, broker: this.brokerAddr }, "broker stopped");
  }

  /** Stops the NameServer. Its port is kept for a restart with startNamesrv(). */
  async stopNamesrv(options: StopProcessOptions = {}): Promise<void> {
    if (this.#namesrv === undefined) return;
    await stopLogged(this.#namesrv, options.graceMs ?? 20_000);
    this.#logger.info({ cluster: this.name, namesrv: this.namesrv }, "NameServer stopped");
  }

  /** stopBroker() then startBroker(): same ports, same store; resolves when routable again. */
  async restartBroker(options: StopProcessOptions = {}, signal?: AbortSignal): Promise<void> {
    await this.stopBroker(options);
    await this.startBroker(signal);
  }

  /** stopNamesrv() then startNamesrv(); then waits until the broker is registered again. */
  async restartNamesrv(options: StopProcessOptions = {}, signal?: AbortSignal): Promise<void> {
    await this.stopNamesrv(options);
    await this.startNamesrv(signal);
    if (this.brokerPid !== undefined) {
      // The broker re-registers every 30 s on its own; the probe's topic creation makes it
      // register at once (UPDATE_AND_CREATE_TOPIC triggers registerBrokerAll).
      await probeCluster({
        namesrv: this.namesrv,
        brokerName: this.brokerName,
        brokerAddr: this.brokerAddr,
        ...this.#probeSecurity(),
        timeoutMs: this.#readyTimeoutMs,
        ...(signal ? { signal } : {}),
      }).catch((err: unknown) => {
        throw withLog(err, this.#broker);
      });
    }
  }

  /** Stops both processes for good and releases the ports. Files are left to the caller. */
  async stop(options: StopProcessOptions = {}): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    const graceMs = options.graceMs ?? 1000;
    await Promise.all([
      this.#broker ? stopLogged(this.#broker, graceMs) : undefined,
      this.#namesrv ? stopLogged(this.#namesrv, graceMs) : undefined,
    ]);
    releasePorts(this.ports.filter((p) => p > 0));
  }

  /**
   * broker.conf keys for ACL, and on 4.9.x the initial plain_acl.yml. That file is written only
   * if missing: accounts that tests added (setAccount) survive a broker restart.
   */
  #aclBrokerProperties(home: string): Record<string, string | boolean> {
    const admin = this.#security.acl;
    if (admin === undefined) return {};
    if (this.distribution.major >= 5) return aclBrokerProperties5(admin);
    const file = join(home, PLAIN_ACL_PATH);
    if (!existsSync(file)) writePlainAcl(file, initialPlainAcl(admin));
    return { aclEnable: true };
  }

  #assertRunnable(what: string): void {
    if (this.#stopped)
      throw new SandboxError(
        SandboxErrorCode.STOPPED,
        `cannot ${what} of cluster ${this.name}: the cluster was stopped`,
      );
  }

  async #spawn(role: Role, dir: string, mainArgs: string[]): Promise<LoggedProcess> {
    const java = javaCommand();
    try {
      const tls = serverTlsProperties(dir, this.#security.tls);
      return await spawnLogged(java, javaArgs(this.distribution, role, dir, mainArgs, tls), {
        cwd: dir,
        env: javaEnv(dir),
        logFile: join(dir, "out.log"),
      });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") {
        throw new SandboxError(
          SandboxErrorCode.JAVA_MISSING,
          `cannot start the ${role} of cluster ${this.name}: "${java}" not found (install Java 17+ or set JAVA_HOME)`,
          {
            cause: err,
          },
        );
      }
      throw err;
    }
  }

  /** Undefined while the process runs; a description of its end once it exited. */
  #exitReason(proc: LoggedProcess): () => string | undefined {
    return () => {
      if (isRunning(proc)) return undefined;
      const { exitCode, signalCode } = proc.child;
      return `process ${proc.pid} exited (${signalCode ?? `code ${exitCode}`})`;
    };
  }

  /** Waits for the boot line in the process's log, failing when it exits or the deadline passes. */
  async #waitForBoot(proc: LoggedProcess, what: string, line: RegExp, signal?: AbortSignal): Promise<void> {
    const deadline = Date.now() + this.#readyTimeoutMs;
    const label = `${what} of cluster ${this.name} (pid ${proc.pid})`;
    for (;;) {
      if (signal?.aborted)
        throw new SandboxError(SandboxErrorCode.STOPPED, `stopped while starting the ${label}`);
      if (line.test(readRunLog(proc))) return;
      const exited = this.#exitReason(proc)();
      if (exited !== undefined)
        throw new SandboxError(SandboxErrorCode.START_FAILED, `the ${label} failed to start: ${exited}`);
      if (Date.now() > deadline)
        throw new SandboxError(
          SandboxErrorCode.NOT_READY,
          `the ${label} did not boot within ${this.#readyTimeoutMs} ms`,
        );
      await Promise.race([sleep(100), proc.exited]);
    }
  }
}

function isBindConflict(proc: LoggedProcess): boolean {
  return BIND_CONFLICT.test(readRunLog(proc));
}

/** Adds the tail of the process's log to a startup error, so the cause is in the message. */
function withLog(err: unknown, proc: LoggedProcess | undefined): unknown {
  if (proc === undefined || !(err instanceof SandboxError)) return err;
  const tail = tailFile(proc.logFile, 25);
  return new SandboxError(
    err.code as SandboxErrorCode,
    `${err.message}\n--- last lines of ${proc.logFile} ---\n${tail}`,
    {
      cause: err.cause,
      context: { ...err.context, logFile: proc.logFile },
    },
  );
}
