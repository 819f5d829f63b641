/**
 * Broker-side ACL setup of a sandbox, per RocketMQ line:
 * - 4.9.x, ACL 1.0: broker.conf aclEnable=true, accounts in <broker home>/conf/plain_acl.yml
 *   (PlainPermissionManager reads ${rocketmq.home.dir}/conf/plain_acl.yml, hot-reloaded).
 * - 5.x, ACL 2.0 (1.0 is gone since 5.3.3): authentication and authorization with the local
 *   RocksDB metadata providers, and the admin as initAuthenticationUser (created as Super).
 * The admin secret is random per run, so nothing secret is ever committed or reused.
 */
import { randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import type { Credentials } from "../client/rocketmq-client.js";

/** Where a 4.9.x broker reads its accounts, relative to its home (rocketmq.home.dir). */
export const PLAIN_ACL_PATH = join("conf", "plain_acl.yml");

/** The admin account of a new ACL sandbox: fixed name, random secret (both ≥ 7 chars for 4.9.x). */
export function generateAdminCredentials(): Credentials {
  return { accessKey: "rmq-sandbox-admin", secretKey: randomBytes(18).toString("base64url") };
}

/** broker.conf keys that turn on ACL 2.0 with `admin` as the super user (5.x). */
export function aclBrokerProperties5(admin: Credentials): Record<string, string | boolean> {
  return {
    authenticationEnabled: true,
    authenticationMetadataProvider:
      "org.apache.rocketmq.auth.authentication.provider.LocalAuthenticationMetadataProvider",
    authorizationEnabled: true,
    authorizationMetadataProvider:
      "org.apache.rocketmq.auth.authorization.provider.LocalAuthorizationMetadataProvider",
    // base64url secrets need no escaping in a properties value.
    initAuthenticationUser: JSON.stringify({ username: admin.accessKey, password: admin.secretKey }),
  };
}

/** One account of plain_acl.yml, with the keys PlainPermissionManager reads. */
export interface PlainAclAccount {
  accessKey: string;
  secretKey: string;
  admin: boolean;
  defaultTopicPerm?: string;
  defaultGroupPerm?: string;
  topicPerms?: string[];
  groupPerms?: string[];
}

/** The whole plain_acl.yml. No global whitelist ever: a loopback match skips every check. */
export interface PlainAclDocument {
  globalWhiteRemoteAddresses: string[];
  accounts: PlainAclAccount[];
}

/**
 * Writes plain_acl.yml as JSON (valid YAML, and snakeyaml reads it), via a temporary file and a
 * rename: the broker's watcher must never load a half-written file, which would fail to parse.
 */
export function writePlainAcl(file: string, doc: PlainAclDocument): void {
  mkdirSync(dirname(file), { recursive: true });
  const tmp = `${file}.${randomBytes(4).toString("hex")}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(doc, null, 2)}\n`, { mode: 0o600 });
  renameSync(tmp, file);
}

/** Reads a plain_acl.yml written by writePlainAcl. Throws the fs or JSON error. */
export function readPlainAcl(file: string): PlainAclDocument {
  return JSON.parse(readFileSync(file, "utf8")) as PlainAclDocument;
}

/** The file a new 4.9.x ACL sandbox starts with: its admin, and nothing else. */
export function initialPlainAcl(admin: Credentials): PlainAclDocument {
  return {
    globalWhiteRemoteAddresses: [],
    accounts: [{ accessKey: admin.accessKey, secretKey: admin.secretKey, admin: true }],
  };
}
