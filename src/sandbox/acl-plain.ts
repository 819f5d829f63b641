/**
 * Accounts on 4.9.x (ACL 1.0): the broker's plain_acl.yml is rewritten and the broker reloads
 * it on its own (AclFileWatchService compares the file's mtime every 5 s).
 *
 * When is a change enforced? Requests that only need a known accessKey and a valid signature
 * (GET_MAX_OFFSET checks no resource in 4.9.x) tell whether the broker knows an account. Every
 * rewrite therefore also replaces a throw-away "revision" account with a new one; once the new
 * one is accepted, the broker has loaded this very revision of the file, with every account
 * and permission in it (a file is loaded as a whole).
 */
import { randomBytes } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { RequestCode } from "../protocol/codes.js";
import { readPlainAcl, writePlainAcl, type PlainAclAccount } from "./acl-config.js";
import type { AccountChangeOptions, SandboxAccount, SandboxPermission } from "./acl-account.js";
import { brokerRequest } from "./broker-request.js";
import { sandboxTlsOptions } from "./client-options.js";
import type { ClusterInfo } from "./cluster.js";
import { SandboxError, SandboxErrorCode } from "./errors.js";
import { PROBE_TOPIC } from "./probe.js";

const REVISION_PREFIX = "rmq-sandbox-rev-";
/** 4.9.x answers an ACL refusal with SYSTEM_ERROR and the exception as remark. */
const ACL_EXCEPTION = "org.apache.rocketmq.acl.common.AclException";

/** Edits of one file in this process, one after the other (a read-modify-write each). */
const queues = new Map<string, Promise<unknown>>();

const PERM: Record<SandboxPermission, string> = {
  pub: "PUB",
  sub: "SUB",
  "pub|sub": "PUB|SUB",
  deny: "DENY",
};

/** plain_acl.yml entry of an account: everything not listed is denied. */
function plainAccount(account: SandboxAccount): PlainAclAccount {
  return {
    accessKey: account.accessKey,
    secretKey: account.secretKey,
    admin: false,
    defaultTopicPerm: "DENY",
    defaultGroupPerm: "DENY",
    topicPerms: Object.entries(account.topics ?? {}).map(([t, p]) => `${t}=${PERM[p]}`),
    groupPerms: Object.entries(account.groups ?? {}).map(([g, p]) => `${g}=${PERM[p]}`),
  };
}

export function setPlainAccount(
  cluster: ClusterInfo,
  account: SandboxAccount,
  options: AccountChangeOptions,
): Promise<void> {
  return edit(
    cluster,
    (accounts) => [...accounts.filter((a) => a.accessKey !== account.accessKey), plainAccount(account)],
    options,
  );
}

export function removePlainAccount(
  cluster: ClusterInfo,
  accessKey: string,
  options: AccountChangeOptions,
): Promise<void> {
  return edit(cluster, (accounts) => accounts.filter((a) => a.accessKey !== accessKey), options);
}

function edit(
  cluster: ClusterInfo,
  change: (accounts: PlainAclAccount[]) => PlainAclAccount[],
  options: AccountChangeOptions,
): Promise<void> {
  const file = cluster.aclFile;
  if (file === undefined)
    throw new SandboxError(
      SandboxErrorCode.ACL_FAILED,
      `cluster ${cluster.name} (RocketMQ ${cluster.version}) names no aclFile in its ClusterInfo`,
    );
  const previous = queues.get(file) ?? Promise.resolve();
  const next = previous
    .catch(() => undefined)
    .then(async () => {
      const doc = readPlainAcl(file);
      const revision: PlainAclAccount = {
        accessKey: `${REVISION_PREFIX}${randomBytes(6).toString("hex")}`,
        secretKey: randomBytes(12).toString("base64url"),
        admin: false,
        defaultTopicPerm: "DENY",
        defaultGroupPerm: "DENY",
      };
      const kept = doc.accounts.filter((a) => !a.accessKey.startsWith(REVISION_PREFIX));
      writePlainAcl(file, { ...doc, accounts: [...change(kept), revision] });
      await waitForRevision(cluster, revision, options);
    });
  queues.set(file, next);
  return next;
}

/** Polls until the broker accepts a request signed by `revision`, or the deadline passes. */
async function waitForRevision(
  cluster: ClusterInfo,
  revision: PlainAclAccount,
  options: AccountChangeOptions,
): Promise<void> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const deadline = Date.now() + timeoutMs;
  const tls = sandboxTlsOptions(cluster);
  let last = "no attempt made";
  for (;;) {
    if (options.signal?.aborted)
      throw new SandboxError(
        SandboxErrorCode.STOPPED,
        `stopped while waiting for ${cluster.aclFile} to load`,
      );
    try {
      const response = await brokerRequest(
        cluster.brokerAddr,
        { code: RequestCode.GET_MAX_OFFSET, extFields: { topic: PROBE_TOPIC, queueId: "0" } },
        { credentials: revision, tls, signal: options.signal },
      );
      if (response.code === 0) return;
      if (!(response.remark ?? "").startsWith(ACL_EXCEPTION))
        throw new SandboxError(
          SandboxErrorCode.ACL_FAILED,
          `broker ${cluster.brokerAddr} answered the ACL reload probe with code ${response.code}: ${response.remark ?? ""}`,
        );
      last = response.remark ?? "";
    } catch (err) {
      if (err instanceof SandboxError) throw err;
      last = err instanceof Error ? err.message : String(err);
    }
    if (Date.now() > deadline)
      throw new SandboxError(
        SandboxErrorCode.ACL_FAILED,
        `broker ${cluster.brokerAddr} did not load ${cluster.aclFile} within ${timeoutMs} ms; last answer: ${last}`,
        { context: { address: cluster.brokerAddr } },
      );
    await sleep(250);
  }
}
