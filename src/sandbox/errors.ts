import { RmqError, type RmqErrorOptions } from "../protocol/errors.js";

/**
 * Stable codes of sandbox failures. Tests and the CLI match on these, so they never change meaning.
 * - JAVA_MISSING / MAVEN_MISSING: the tool is not on PATH (or JAVA_HOME is wrong).
 * - FETCH_FAILED: Maven could not resolve the RocketMQ jars of the requested version.
 * - START_FAILED: a NameServer or Broker process exited during startup.
 * - NOT_READY: a process did not become ready over the protocol before its deadline.
 * - COMMAND_FAILED: an mqadmin run exited non-zero or timed out.
 * - STOPPED: the sandbox was stopped (or its start aborted) while an operation was under way.
 * - OPENSSL_MISSING: a TLS sandbox needs `openssl` on PATH to make its certificates.
 * - CERT_FAILED: openssl ran but could not make the CA or the server certificate.
 * - ACL_FAILED: an account change was refused, or the broker did not enforce it in time.
 */
export const SandboxErrorCode = {
  JAVA_MISSING: "RMQ_SANDBOX_JAVA_MISSING",
  MAVEN_MISSING: "RMQ_SANDBOX_MAVEN_MISSING",
  FETCH_FAILED: "RMQ_SANDBOX_FETCH_FAILED",
  START_FAILED: "RMQ_SANDBOX_START_FAILED",
  NOT_READY: "RMQ_SANDBOX_NOT_READY",
  COMMAND_FAILED: "RMQ_SANDBOX_COMMAND_FAILED",
  STOPPED: "RMQ_SANDBOX_STOPPED",
  OPENSSL_MISSING: "RMQ_SANDBOX_OPENSSL_MISSING",
  CERT_FAILED: "RMQ_SANDBOX_CERT_FAILED",
  ACL_FAILED: "RMQ_SANDBOX_ACL_FAILED",
} as const;
export type SandboxErrorCode = (typeof SandboxErrorCode)[keyof typeof SandboxErrorCode];

/** A failure to fetch, start, probe or stop local RocketMQ processes. */
export class SandboxError extends RmqError {
  override name = "SandboxError";
  constructor(code: SandboxErrorCode, message: string, options: RmqErrorOptions = {}) {
    super(code, message, options);
  }
}
