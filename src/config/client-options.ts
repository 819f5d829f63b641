/**
 * The one way from a cluster's settings to the options of its RocketMQClient. The engine (and so
 * the probes, which use the engine's clients), `plan`, `produce`, `consume` and `topic` all build
 * their clients here: a second hand-written copy drifts (plan once dropped the credentials and
 * the request timeout, produce and consume could neither sign nor speak TLS).
 */
import type { ClientOptions } from "../client/rocketmq-client.js";
import type { Logger } from "../client/logger.js";
import { RmqError } from "../protocol/errors.js";
import type { TlsOptions } from "../transport/connection.js";
import type { TlsConfig } from "./types.js";

/**
 * How to reach and authenticate to one cluster: the connection part of a cluster's config
 * (ClusterConfig satisfies it), or what a command assembled from its flags and environment.
 */
export interface ClusterConnection {
  /** NameServer addresses: "host:port;host:port" or a list. */
  readonly namesrv: string | readonly string[];
  /** ACL access key; with secretKey. */
  readonly accessKey?: string | undefined;
  /** ACL secret key; with accessKey. Never printed. */
  readonly secretKey?: string | undefined;
  /** ACL security token (temporary credentials); needs accessKey and secretKey. Never printed. */
  readonly securityToken?: string | undefined;
  /** Speak TLS to NameServers and brokers: true (system CAs, verified) or settings. Default false. */
  readonly tls?: boolean | TlsConfig | undefined;
  /** Per request, ms. Default: the client's (3000). */
  readonly requestTimeoutMs?: number | undefined;
  /** Announced "host:port" -> "host:port" to dial (NAT, port-forward, proxy). Default: none. */
  readonly addressMap?: Readonly<Record<string, string>> | undefined;
}

/** What only the caller knows: where the client logs and how it names itself. */
export type ClientIdentity = Pick<ClientOptions, "logger" | "instanceName">;

/**
 * What is wrong with the credentials of `cluster` (a lone access or secret key, a token without
 * keys), or undefined when they are complete or absent. `names` names the settings as the user
 * wrote them (config keys by default, environment variables for the commands). The text never
 * carries a value.
 */
export function credentialsProblem(
  cluster: ClusterConnection,
  names: CredentialNames = CONFIG_KEY_NAMES,
): string | undefined {
  const { accessKey, secretKey, securityToken } = cluster;
  if ((accessKey === undefined) !== (secretKey === undefined)) {
    const [given, missing] =
      accessKey === undefined ? [names.secretKey, names.accessKey] : [names.accessKey, names.secretKey];
    return `${given} is set but ${missing} is not: give both or neither`;
  }
  if (securityToken !== undefined && accessKey === undefined)
    return `${names.securityToken} is set without ${names.accessKey} and ${names.secretKey}`;
  return undefined;
}

/**
 * The RocketMQClient options of `cluster`, with the caller's logger and instance name. Throws
 * RmqError RMQ_CONFIG (credentialsProblem's text, no value) when the credentials are incomplete:
 * a client that silently does not sign fails later with a confusing NO_PERMISSION.
 */
export function clientOptions(cluster: ClusterConnection, identity: ClientIdentity = {}): ClientOptions {
  const problem = credentialsProblem(cluster);
  if (problem !== undefined) throw new RmqError("RMQ_CONFIG", problem);
  const { accessKey, secretKey, securityToken } = cluster;
  const logger: Logger | undefined = identity.logger;
  return {
    namesrv: cluster.namesrv,
    ...(cluster.requestTimeoutMs === undefined ? {} : { requestTimeoutMs: cluster.requestTimeoutMs }),
    ...(cluster.tls === undefined || cluster.tls === false ? {} : { tls: tlsOptions(cluster.tls) }),
    ...(cluster.addressMap === undefined ? {} : { addressMap: cluster.addressMap }),
    ...(accessKey !== undefined && secretKey !== undefined
      ? {
          credentials: {
            accessKey,
            secretKey,
            ...(securityToken === undefined ? {} : { securityToken }),
          },
        }
      : {}),
    ...(logger === undefined ? {} : { logger }),
    ...(identity.instanceName === undefined ? {} : { instanceName: identity.instanceName }),
  };
}

/** How the three credentials are named where they came from, for error messages. */
export interface CredentialNames {
  readonly accessKey: string;
  readonly secretKey: string;
  readonly securityToken: string;
}

/** The config file's key names. */
export const CONFIG_KEY_NAMES: CredentialNames = {
  accessKey: "accessKey",
  secretKey: "secretKey",
  securityToken: "securityToken",
};

/** node:tls options of a cluster's TLS settings: verified unless `verify: false`. */
function tlsOptions(tls: true | TlsConfig): TlsOptions {
  if (tls === true) return { rejectUnauthorized: true };
  return {
    rejectUnauthorized: tls.verify,
    ...(tls.ca === undefined ? {} : { ca: tls.ca }),
    ...(tls.cert === undefined ? {} : { cert: tls.cert }),
    ...(tls.key === undefined ? {} : { key: tls.key }),
    ...(tls.serverName === undefined ? {} : { servername: tls.serverName }),
  };
}
