/**
 * How `produce`, `consume` and `topic` reach a cluster: --namesrv, --tls and --request-timeout
 * from the command line, ACL credentials from the environment only. A flag's value is visible to
 * every user of the machine in `ps` and lands in shell history, so there is deliberately no flag
 * for a secret.
 */
import { credentialsProblem, type ClusterConnection } from "../config/client-options.js";
import { required } from "./args.js";
import { parseDuration } from "./durations.js";
import { UsageError } from "./usage.js";

/** The environment variables holding a command's ACL credentials. */
export const CREDENTIAL_ENV = {
  accessKey: "RMQ_ACCESS_KEY",
  secretKey: "RMQ_SECRET_KEY",
  securityToken: "RMQ_SECURITY_TOKEN",
} as const;

/** The parseArgs options of the connection flags, to spread into a command's own. */
export const CONNECTION_FLAGS = {
  namesrv: { type: "string" },
  tls: { type: "boolean" },
  "request-timeout": { type: "string" },
} as const;

/** The help lines of the connection flags and the credential variables. */
export const CONNECTION_HELP = `  --namesrv ADDR        NameServer address(es), "host:port;host:port" (required)
  --tls                 speak TLS to NameServers and brokers
  --request-timeout D   timeout of each request, e.g. 3s (default 5s)`;

/** The help paragraph on credentials. */
export const CREDENTIALS_HELP = `ACL credentials come from the environment, never from flags (a flag shows in ps):
  ${CREDENTIAL_ENV.accessKey}, ${CREDENTIAL_ENV.secretKey}   sign every request (give both)
  ${CREDENTIAL_ENV.securityToken}               also send this security token (temporary credentials)`;

/** Default per-request timeout of the commands. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 5000;

/** The parsed connection flags, as a command holds them. */
export interface ConnectionValues {
  namesrv?: string | undefined;
  tls?: boolean | undefined;
  "request-timeout"?: string | undefined;
}

/**
 * The cluster a command talks to, from its flags and `env` (process.env by default). Empty
 * variables count as unset. Throws UsageError naming the flag or variable at fault; the message
 * never holds a credential's value.
 */
export function connectionFromArgs(
  values: ConnectionValues,
  env: Readonly<Record<string, string | undefined>> = process.env,
): ClusterConnection {
  const fromEnv = (name: string): string | undefined => {
    const v = env[name];
    return v === undefined || v === "" ? undefined : v;
  };
  const accessKey = fromEnv(CREDENTIAL_ENV.accessKey);
  const secretKey = fromEnv(CREDENTIAL_ENV.secretKey);
  const securityToken = fromEnv(CREDENTIAL_ENV.securityToken);
  const connection: ClusterConnection = {
    namesrv: required(values.namesrv, "--namesrv"),
    tls: values.tls === true,
    requestTimeoutMs:
      values["request-timeout"] === undefined
        ? DEFAULT_REQUEST_TIMEOUT_MS
        : parseDuration(values["request-timeout"], "--request-timeout"),
    ...(accessKey === undefined ? {} : { accessKey }),
    ...(secretKey === undefined ? {} : { secretKey }),
    ...(securityToken === undefined ? {} : { securityToken }),
  };
  const problem = credentialsProblem(connection, CREDENTIAL_ENV);
  if (problem !== undefined) throw new UsageError(problem);
  return connection;
}
