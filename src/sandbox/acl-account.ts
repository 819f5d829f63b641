/** What a test asks of an ACL sandbox account (see acl.ts), shared by both RocketMQ lines. */

/** What an account may do with a topic: "deny" is an explicit refusal. */
export type SandboxPermission = "pub" | "sub" | "pub|sub" | "deny";

export interface SandboxAccount {
  /** At least 7 characters (4.9.x refuses shorter keys and secrets). */
  accessKey: string;
  secretKey: string;
  /** Topic name -> permission. Topics not listed are denied. */
  topics?: Record<string, SandboxPermission>;
  /** Consumer group -> permission. Groups not listed are denied. */
  groups?: Record<string, "sub" | "deny">;
}

export interface AccountChangeOptions {
  signal?: AbortSignal;
  /** Deadline for the broker to enforce the change, ms. Default 30 000 (4.9.x reloads every 5 s). */
  timeoutMs?: number;
}
