/**
 * ACL request signing (ACL 1.0 and 2.0 are identical on the wire), following
 * org.apache.rocketmq.acl.common.AclClientRPCHook, AclUtils.combineRequestContent and AclSigner:
 *
 *   extFields += { AccessKey: accessKey, SecurityToken?: token }
 *   content    = concat(values of extFields sorted by key in UTF-16 order (Java TreeMap), skipping
 *                "Signature") as UTF-8, then the raw body bytes
 *   extFields.Signature = base64(HmacSHA1(key = secretKey as UTF-8, content))
 *
 * Sign last: any header or body change after signing invalidates the signature.
 */
import { createHmac } from "node:crypto";

/** Ext-field names of SessionCredentials.java. */
export const AclFieldName = {
  ACCESS_KEY: "AccessKey",
  SECRET_KEY: "SecretKey",
  SIGNATURE: "Signature",
  SECURITY_TOKEN: "SecurityToken",
} as const;

/** Credentials of one ACL user (ACL 2.0: accessKey = username, secretKey = password). */
export interface AclCredentials {
  accessKey: string;
  secretKey: string;
  securityToken?: string | undefined;
}

/** base64(HmacSHA1(secretKey, data)), as AclSigner.calSignature. */
export function calSignature(data: Uint8Array, secretKey: string): string {
  return createHmac("sha1", Buffer.from(secretKey, "utf8")).update(data).digest("base64");
}

/** Java's String.compareTo: UTF-16 code units, which is also what Array.prototype.sort compares by default. */
function compareUtf16(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The bytes that are signed: sorted ext-field values (without Signature) as UTF-8, then the body. */
export function signatureContent(
  extFields: Readonly<Record<string, string>>,
  body: Uint8Array | undefined,
): Buffer {
  const keys = Object.keys(extFields)
    .filter((k) => k !== AclFieldName.SIGNATURE)
    .sort(compareUtf16);
  const text = keys.map((k) => extFields[k] as string).join("");
  const head = Buffer.from(text, "utf8");
  return body === undefined || body.length === 0 ? head : Buffer.concat([head, body]);
}

/**
 * Returns a copy of `extFields` with AccessKey, SecurityToken (when given) and Signature added, as
 * the Java AclClientRPCHook does before sending. The input is not modified; an existing
 * Signature is replaced. Never throws.
 */
export function signRequest(
  extFields: Readonly<Record<string, string>>,
  body: Uint8Array | undefined,
  credentials: AclCredentials,
): Record<string, string> {
  const out: Record<string, string> = { ...extFields, [AclFieldName.ACCESS_KEY]: credentials.accessKey };
  if (credentials.securityToken !== undefined) out[AclFieldName.SECURITY_TOKEN] = credentials.securityToken;
  delete out[AclFieldName.SIGNATURE];
  out[AclFieldName.SIGNATURE] = calSignature(signatureContent(out, body), credentials.secretKey);
  return out;
}
