/**
 * How `produce`, `consume` and `topic` reach a cluster: --namesrv, --tls and --request-timeout
 * from the command line, ACL credentials from the environment only. A flag's value is visible to
 * every user of the machine in `ps` and lands in shell history, so there is deliberately no flag
 * for a secret.
 */
import { credentialsProblem, type ClusterConnection } from "../config/client-options.js";
import { readTlsFiles } from "../config/files.js";
import type { TlsConfig } from "../config/types.js";
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
  "tls-ca": { type: "string" },
  "tls-cert": { type: "string" },
  "tls-key": { type: "string" },
  "tls-server-name": { type: "string" },
  "tls-insecure": { type: "boolean" },
  "request-timeout": { type: "string" },
} as const;

/** The help lines of the connection flags and the credential variables. */
export const CONNECTION_HELP = `  --namesrv ADDR        NameServer address(es), "host:port;host:port" (required)
  --tls                 speak TLS to NameServers and brokers (certificates verified
                        against the system's CAs)
  --tls-ca FILE         PEM of the CA that signed the servers' certificates (implies --tls)
  --tls-cert FILE, --tls-key FILE
                        client certificate and key, for mutual TLS (implies --tls)
  --tls-server-name N   the name the certificates must hold (default: the host dialled)
  --tls-insecure        accept any certificate (encrypted, peer unknown: tests only)
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
  "tls-ca"?: string | undefined;
  "tls-cert"?: string | undefined;
  "tls-key"?: string | undefined;
  "tls-server-name"?: string | undefined;
  "tls-insecure"?: boolean | undefined;
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
    tls: tlsFromArgs(values),
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

/** The flag of each TLS setting, for errors about the files they name. */
const TLS_FLAGS: Record<string, string> = {
  ca: "--tls-ca",
  cert: "--tls-cert",
  key: "--tls-key",
};

/**
 * The TLS settings of the --tls* flags, the files read and checked as a config's are (the same
 * reader, so a command and `run` agree on what a PEM file must hold). Throws UsageError naming
 * the flag.
 */
function tlsFromArgs(values: ConnectionValues): TlsConfig | false {
  const files = { ca: values["tls-ca"], cert: values["tls-cert"], key: values["tls-key"] };
  const serverName = values["tls-server-name"];
  const insecure = values["tls-insecure"] === true;
  if (serverName === "") throw new UsageError("--tls-server-name must not be empty");
  const given = Object.values(files).some((f) => f !== undefined);
  if (values.tls !== true && !given) {
    if (serverName !== undefined || insecure)
      throw new UsageError(
        `${serverName !== undefined ? "--tls-server-name" : "--tls-insecure"} needs --tls`,
      );
    return false;
  }
  const problems: string[] = [];
  const tls = readTlsFiles(
    {
      verify: !insecure,
      ...Object.fromEntries(Object.entries(files).filter(([, f]) => f !== undefined)),
      ...(serverName === undefined ? {} : { serverName }),
    },
    process.cwd(),
    (path, message) => {
      const flag = TLS_FLAGS[String(path[0])] ?? "--tls";
      problems.push(`${flag}: ${message.replace("tls.cert and tls.key", "--tls-cert and --tls-key")}`);
    },
  );
  if (problems.length > 0) throw new UsageError(problems.join("; "));
  return tls;
}
