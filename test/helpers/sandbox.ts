/**
 * Real RocketMQ clusters for test files. `useSandbox(n)` hands out the clusters the test driver
 * (scripts/test.mjs) started once for the whole run, passed in env RMQ_TEST_CLUSTERS, so most files
 * cost no JVM start; `useSandbox(n, { dedicated: true })` starts the file's own clusters, for tests
 * that stop or restart processes. Without the env var (a file run alone), clusters are started on
 * first use and stopped by the suite's `after` hook.
 */
import { after } from "node:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import {
  ensureDistribution,
  resolveVersion,
  runMqadmin,
  startSandbox,
  type ClusterInfo,
  type Sandbox,
  type StopProcessOptions,
} from "../../src/sandbox/index.js";

/** A cluster as tests see it: addresses, plus process control on dedicated clusters. */
export interface TestCluster extends ClusterInfo {
  /** Stop the broker (SIGTERM; `graceMs: 0` = SIGKILL) and keep its store and ports. */
  stopBroker(options?: StopProcessOptions): Promise<void>;
  startBroker(): Promise<void>;
  restartBroker(options?: StopProcessOptions): Promise<void>;
  stopNamesrv(options?: StopProcessOptions): Promise<void>;
  startNamesrv(): Promise<void>;
  restartNamesrv(options?: StopProcessOptions): Promise<void>;
}

export interface TestSandbox {
  /** The clusters, started (or looked up) on first call; the same array afterwards. */
  clusters(): Promise<TestCluster[]>;
  /** Runs mqadmin of the clusters' RocketMQ version; resolves with its stdout. */
  mqadmin(args: readonly string[]): Promise<string>;
}

export interface UseSandboxOptions {
  /** Start this file's own clusters even if shared ones exist (needed to stop/restart them). */
  dedicated?: boolean;
  /** RocketMQ version; default env RMQ_VERSION or the harness default. */
  version?: string;
}

/** Env var through which the test driver passes shared clusters (JSON array of ClusterInfo). */
export const SHARED_CLUSTERS_ENV = "RMQ_TEST_CLUSTERS";

/** Shared clusters from the environment, or undefined. */
export function sharedClusters(): ClusterInfo[] | undefined {
  const raw = process.env[SHARED_CLUSTERS_ENV];
  if (!raw) return undefined;
  return JSON.parse(raw) as ClusterInfo[];
}

/** A name unique to this run, safe as a topic or group name: `${prefix}-<time>-<random>`. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${randomBytes(3).toString("hex")}`;
}

/**
 * Clusters for the calling suite (call at the top of a file or inside `describe`). Starting is
 * lazy, on the first `clusters()` call, so the suite's timeouts cover it; teardown is registered
 * with node:test's `after`.
 */
export function useSandbox(count = 1, options: UseSandboxOptions = {}): TestSandbox {
  const version = resolveVersion(options.version);
  const shared = options.dedicated ? undefined : sharedClusters();
  const usable = shared !== undefined && shared.length >= count && shared.every((c) => c.version === version);
  let own: Sandbox | undefined;
  let clusters: Promise<TestCluster[]> | undefined;
  let mqadminHome: string | undefined;

  after(async () => {
    if (clusters) await clusters.catch(() => undefined);
    await own?.stop();
    if (mqadminHome) rmSync(mqadminHome, { recursive: true, force: true });
  });

  const get = (): Promise<TestCluster[]> => {
    clusters ??= (async () => {
      if (usable) return shared.slice(0, count).map(sharedCluster);
      own = await startSandbox({ clusters: count, version, namePrefix: "t" });
      return own.clusters.map((c): TestCluster => ({
        ...c.info(),
        stopBroker: (o) => c.stopBroker(o),
        startBroker: () => c.startBroker(),
        restartBroker: (o) => c.restartBroker(o),
        stopNamesrv: (o) => c.stopNamesrv(o),
        startNamesrv: () => c.startNamesrv(),
        restartNamesrv: (o) => c.restartNamesrv(o),
      }));
    })();
    return clusters;
  };

  return {
    clusters: get,
    async mqadmin(args) {
      await get();
      if (own) return own.mqadmin(args);
      mqadminHome ??= mkdtempSync(join(tmpdir(), "rmq-mqadmin-"));
      return runMqadmin(await ensureDistribution({ version }), mqadminHome, args);
    },
  };
}

function sharedCluster(info: ClusterInfo): TestCluster {
  const refuse = (): Promise<void> =>
    Promise.reject(
      new Error(
        `cluster ${info.name} is shared by the test run; use useSandbox(n, { dedicated: true }) to control its processes`,
      ),
    );
  return {
    ...info,
    stopBroker: refuse,
    startBroker: refuse,
    restartBroker: refuse,
    stopNamesrv: refuse,
    startNamesrv: refuse,
    restartNamesrv: refuse,
  };
}
