/** Public surface of the sandbox layer: local RocketMQ clusters for tests, benchmarks and demos. */
export {
  startSandbox,
  runMqadmin,
  type Sandbox,
  type SandboxOptions,
  type MqadminOptions,
} from "./sandbox.js";
export {
  LocalCluster,
  type ClusterInfo,
  type ClusterSecurity,
  type LocalClusterOptions,
  type StopProcessOptions,
} from "./cluster.js";
export {
  DEFAULT_ROCKETMQ_VERSION,
  ensureDistribution,
  resolveVersion,
  cacheRoot,
  javaCommand,
  describeMavenFailure,
  type Distribution,
  type EnsureDistributionOptions,
} from "./distribution.js";
export { probeCluster, PROBE_TOPIC, type ProbeOptions } from "./probe.js";
export { SandboxError, SandboxErrorCode } from "./errors.js";
export {
  setAccount,
  removeAccount,
  type SandboxAccount,
  type SandboxPermission,
  type AccountChangeOptions,
} from "./acl.js";
export { sandboxClientOptions, sandboxTlsOptions, type ClusterSecurityInfo } from "./client-options.js";
export { generateCertificates, type SandboxCertificates } from "./tls.js";
export { livePids, killAllNow, setSignalHandling } from "./process.js";
