/**
 * Accounts of an ACL sandbox for tests: create, replace and remove an account with per-topic
 * and per-group permissions, from a ClusterInfo alone (test processes get clusters as JSON),
 * on either RocketMQ line: 4.9.x edits the broker's plain_acl.yml (acl-plain.ts), 5.x sends
 * ACL 2.0 user and ACL requests to the broker as the super user (acl-auth.ts). Both resolve
 * only once the broker enforces the change.
 */
import type { AccountChangeOptions, SandboxAccount } from "./acl-account.js";
import type { ClusterInfo } from "./cluster.js";
import { SandboxError, SandboxErrorCode } from "./errors.js";
import { removeAuthAccount, setAuthAccount } from "./acl-auth.js";
import { removePlainAccount, setPlainAccount } from "./acl-plain.js";

export type { AccountChangeOptions, SandboxAccount, SandboxPermission } from "./acl-account.js";

/** The shortest key and secret 4.9.x accepts (PlainPermissionManager: length <= 6 fails the load). */
const MIN_KEY_LENGTH = 7;

/**
 * Creates the account, or replaces its secret and all its permissions; resolves once the broker
 * enforces them. The cluster must have been started with `acl: true`.
 * @throws SandboxError RMQ_SANDBOX_ACL_FAILED when the cluster has no ACL, the account is
 * invalid, the broker refuses the change or does not enforce it before the deadline.
 */
export async function setAccount(
  cluster: ClusterInfo,
  account: SandboxAccount,
  options: AccountChangeOptions = {},
): Promise<void> {
  checkAclCluster(cluster);
  for (const [what, value] of [
    ["accessKey", account.accessKey],
    ["secretKey", account.secretKey],
  ] as const) {
    if (value.length < MIN_KEY_LENGTH)
      throw new SandboxError(
        SandboxErrorCode.ACL_FAILED,
        `account ${account.accessKey}: ${what} must have at least ${MIN_KEY_LENGTH} characters`,
      );
  }
  if (account.accessKey === cluster.acl?.accessKey)
    throw new SandboxError(
      SandboxErrorCode.ACL_FAILED,
      `account ${account.accessKey} is the sandbox's own admin and cannot be changed`,
    );
  await (isV4(cluster)
    ? setPlainAccount(cluster, account, options)
    : setAuthAccount(cluster, account, options));
}

/**
 * Removes the account (a no-op change if it does not exist); resolves once the broker has
 * dropped it.
 * @throws SandboxError RMQ_SANDBOX_ACL_FAILED as setAccount.
 */
export async function removeAccount(
  cluster: ClusterInfo,
  accessKey: string,
  options: AccountChangeOptions = {},
): Promise<void> {
  checkAclCluster(cluster);
  if (accessKey === cluster.acl?.accessKey)
    throw new SandboxError(
      SandboxErrorCode.ACL_FAILED,
      `the sandbox's own admin ${accessKey} cannot be removed`,
    );
  await (isV4(cluster)
    ? removePlainAccount(cluster, accessKey, options)
    : removeAuthAccount(cluster, accessKey, options));
}

function isV4(cluster: ClusterInfo): boolean {
  return Number.parseInt(cluster.version, 10) < 5;
}

function checkAclCluster(cluster: ClusterInfo): void {
  if (cluster.acl === undefined)
    throw new SandboxError(
      SandboxErrorCode.ACL_FAILED,
      `cluster ${cluster.name} has no ACL (start the sandbox with acl: true)`,
    );
}
