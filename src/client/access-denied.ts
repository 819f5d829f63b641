/**
 * Recognises a broker's refusal on access-control grounds, on both ACL generations:
 *
 * - RocketMQ 5.x (ACL 2.0): NO_PERMISSION (16) with a bare reason, e.g. "User:alice has no
 *   permission to access Topic:orders from 127.0.0.1, no matched policies." or "check signature
 *   failed.".
 * - RocketMQ 4.x (ACL 1.0): an AclException thrown in the broker's RPC hook, answered as
 *   SYSTEM_ERROR (1) with the remark "org.apache.rocketmq.acl.common.AclException: <reason>,
 *   <top stack frame>". 4.x also answers NO_PERMISSION when a topic's or group's own perm
 *   forbids the request ("the topic[x] sending message is forbidden").
 *
 * Both refusals happen before the request is processed: a refused send stored nothing.
 */
import { ResponseCode } from "../protocol/codes.js";
import { BrokerError } from "../protocol/errors.js";

const ACL_EXCEPTION = "org.apache.rocketmq.acl.common.AclException:";

/** The broker's reason when `err` is an access-control refusal (cleaned of Java noise), else undefined. */
export function accessDeniedReason(err: unknown): string | undefined {
  if (!(err instanceof BrokerError)) return undefined;
  const remark = err.remark ?? "";
  if (err.responseCode === ResponseCode.NO_PERMISSION) return remark.trim() || "no permission";
  if (err.responseCode !== ResponseCode.SYSTEM_ERROR) return undefined;
  // Anchored: the broker puts the exception's class first (exceptionSimpleDesc); an AclException
  // named further in is another error's text, and must not count as "nothing stored".
  if (!remark.trimStart().startsWith(ACL_EXCEPTION)) return undefined;
  // Drop the stack frame RemotingHelper.exceptionSimpleDesc appends: ", org.apache...(X.java:580)".
  return remark
    .trimStart()
    .slice(ACL_EXCEPTION.length)
    .replace(/,\s*[\w$.]+\([\w$.]+:\d+\)\s*$/, "")
    .trim();
}

/** Whether `err` is an access-control refusal (see accessDeniedReason). */
export function isAccessDenied(err: unknown): boolean {
  return accessDeniedReason(err) !== undefined;
}
