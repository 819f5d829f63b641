/**
 * Accounts on 5.x (ACL 2.0): a Normal user plus one ACL of Custom policies, sent to the broker
 * (AdminBrokerProcessor) signed as the sandbox's super user. Replacing an account deletes the
 * user, which deletes its ACL too (AuthenticationMetadataManagerImpl.deleteUser), and creates
 * both again: a create on an existing ACL would merge policies instead of replacing them.
 *
 * The local metadata providers invalidate their user and ACL caches on every write, before
 * answering, so a change is enforced by the time its response arrives on this single broker.
 * setAccount still checks it with the account's own credentials, topic by topic.
 */
import { setTimeout as sleep } from "node:timers/promises";
import type { Credentials } from "../client/rocketmq-client.js";
import { RequestCode, ResponseCode } from "../protocol/codes.js";
import type { RemotingCommand } from "../protocol/remoting-command.js";
import type { RequestCommand } from "../transport/connection.js";
import type { AccountChangeOptions, SandboxAccount, SandboxPermission } from "./acl-account.js";
import { brokerRequest } from "./broker-request.js";
import { sandboxTlsOptions } from "./client-options.js";
import type { ClusterInfo } from "./cluster.js";
import { SandboxError, SandboxErrorCode } from "./errors.js";

/** org.apache.rocketmq.remoting.protocol.RequestCode, ACL 2.0 part. */
export const AuthRequestCode = {
  AUTH_CREATE_USER: 3001,
  AUTH_UPDATE_USER: 3002,
  AUTH_DELETE_USER: 3003,
  AUTH_GET_USER: 3004,
  AUTH_CREATE_ACL: 3006,
  AUTH_UPDATE_ACL: 3007,
  AUTH_DELETE_ACL: 3008,
} as const;

interface PolicyEntry {
  resource: string;
  actions: string[];
  decision: "Allow" | "Deny";
}

/**
 * Actions per permission, so that a connector can work with "sub" on its source topic and group
 * (max/min offset and search need Topic Get; query and commit of consumer offsets need Topic and
 * Group [Sub|Get] / [Sub|Update], where any listed action matches) and with "pub" on its target
 * topic (send, and offsets to check the write): see DefaultAuthorizationContextBuilder.
 */
const TOPIC_ACTIONS: Record<Exclude<SandboxPermission, "deny">, string[]> = {
  pub: ["Pub", "Get"],
  sub: ["Sub", "Get"],
  "pub|sub": ["Pub", "Sub", "Get"],
};

function entry(resource: string, permission: SandboxPermission): PolicyEntry {
  return permission === "deny"
    ? { resource, actions: ["All"], decision: "Deny" }
    : { resource, actions: TOPIC_ACTIONS[permission], decision: "Allow" };
}

export async function setAuthAccount(
  cluster: ClusterInfo,
  account: SandboxAccount,
  options: AccountChangeOptions,
): Promise<void> {
  const user = account.accessKey;
  await deleteUser(cluster, user, options);
  await adminCall(
    cluster,
    "create user",
    {
      code: AuthRequestCode.AUTH_CREATE_USER,
      extFields: { username: user },
      body: json({ username: user, password: account.secretKey, userType: "Normal" }),
    },
    options,
  );
  const entries = [
    ...Object.entries(account.topics ?? {}).map(([t, p]) => entry(`Topic:${t}`, p)),
    ...Object.entries(account.groups ?? {}).map(([g, p]) => entry(`Group:${g}`, p)),
  ];
  if (entries.length > 0) {
    const subject = `User:${user}`;
    await adminCall(
      cluster,
      "create ACL",
      {
        code: AuthRequestCode.AUTH_CREATE_ACL,
        extFields: { subject },
        body: json({ subject, policies: [{ policyType: "Custom", entries }] }),
      },
      options,
    );
  }
  await waitEnforced(cluster, account, options);
}

export async function removeAuthAccount(
  cluster: ClusterInfo,
  accessKey: string,
  options: AccountChangeOptions,
): Promise<void> {
  await deleteUser(cluster, accessKey, options);
}

/** Deletes the user and its ACL; a user that does not exist is fine. */
async function deleteUser(cluster: ClusterInfo, user: string, options: AccountChangeOptions): Promise<void> {
  const exists = await adminCall(
    cluster,
    "look up user",
    { code: AuthRequestCode.AUTH_GET_USER, extFields: { username: user } },
    options,
  );
  if (exists.body === undefined || exists.body.length === 0) return;
  await adminCall(
    cluster,
    "delete user",
    { code: AuthRequestCode.AUTH_DELETE_USER, extFields: { username: user } },
    options,
  );
}

/** A request signed as the super user; throws unless it succeeded. */
async function adminCall(
  cluster: ClusterInfo,
  what: string,
  request: RequestCommand,
  options: AccountChangeOptions,
): Promise<RemotingCommand> {
  const response = await brokerRequest(cluster.brokerAddr, request, {
    credentials: cluster.acl,
    tls: sandboxTlsOptions(cluster),
    signal: options.signal,
  });
  if (response.code !== ResponseCode.SUCCESS) {
    throw new SandboxError(
      SandboxErrorCode.ACL_FAILED,
      `could not ${what} ${request.extFields?.["username"] ?? request.extFields?.["subject"] ?? ""} on broker ${cluster.brokerAddr}: code ${response.code}${response.remark ? `, ${response.remark}` : ""}`,
      { context: { address: cluster.brokerAddr, requestCode: request.code } },
    );
  }
  return response;
}

/**
 * Until each topic answers GET_MAX_OFFSET (Topic Get) signed by the account as its permission
 * says: allowed for pub/sub, NO_PERMISSION for deny. Guards against a provider that caches
 * (a custom one, or a future default) rather than relying on today's invalidation.
 */
async function waitEnforced(
  cluster: ClusterInfo,
  account: SandboxAccount,
  options: AccountChangeOptions,
): Promise<void> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const deadline = Date.now() + timeoutMs;
  const credentials: Credentials = { accessKey: account.accessKey, secretKey: account.secretKey };
  const tls = sandboxTlsOptions(cluster);
  for (const [topic, permission] of Object.entries(account.topics ?? {})) {
    for (;;) {
      const response = await brokerRequest(
        cluster.brokerAddr,
        { code: RequestCode.GET_MAX_OFFSET, extFields: { topic, queueId: "0" } },
        { credentials, tls, signal: options.signal },
      );
      const denied = response.code === ResponseCode.NO_PERMISSION;
      if (denied === (permission === "deny")) break;
      if (Date.now() > deadline)
        throw new SandboxError(
          SandboxErrorCode.ACL_FAILED,
          `broker ${cluster.brokerAddr} did not enforce "${permission}" on topic ${topic} for ${account.accessKey} within ${timeoutMs} ms (code ${response.code}: ${response.remark ?? ""})`,
        );
      await sleep(200);
    }
  }
}

function json(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value), "utf8");
}
