/**
 * How a client reaches a sandbox cluster from its ClusterInfo alone (a test process gets
 * clusters as JSON): NameServer address, the admin credentials of an ACL sandbox, and trust in
 * the sandbox CA of a TLS one.
 */
import { readFileSync } from "node:fs";
import type { Credentials } from "../client/rocketmq-client.js";
import type { TlsOptions } from "../transport/connection.js";

/** The security fields of a ClusterInfo (JSON-friendly). */
export interface ClusterSecurityInfo {
  /** Admin (4.9.x) or super-user (5.x) credentials of an ACL sandbox. */
  acl?: { accessKey: string; secretKey: string };
  /** Absolute path of the CA certificate (PEM) of a TLS sandbox. */
  tls?: { caFile: string };
}

/**
 * node:tls options that trust the sandbox CA and nothing else, and verify the server (as the
 * transport does by default; said here so that no default can change it).
 * Undefined when the cluster has no TLS. Throws the fs error when the CA file is unreadable.
 */
export function sandboxTlsOptions(info: ClusterSecurityInfo): TlsOptions | undefined {
  if (info.tls === undefined) return undefined;
  return { ca: readFileSync(info.tls.caFile), rejectUnauthorized: true };
}

/**
 * RocketMQClient options for the sandbox's own admin work on a cluster: `credentials` and
 * `tls` set as the cluster needs them (absent keys when it needs none).
 */
export function sandboxClientOptions(info: ClusterSecurityInfo & { namesrv: string }): {
  namesrv: string;
  credentials?: Credentials;
  tls?: TlsOptions;
} {
  const tls = sandboxTlsOptions(info);
  return {
    namesrv: info.namesrv,
    ...(info.acl ? { credentials: { accessKey: info.acl.accessKey, secretKey: info.acl.secretKey } } : {}),
    ...(tls ? { tls } : {}),
  };
}
