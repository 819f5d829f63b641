/**
 * Tag subscriptions, following org.apache.rocketmq.remoting.protocol.filter.FilterAPI
 * (buildSubscriptionData), broker/filter/ExpressionMessageFilter (code match) and
 * client/impl/consumer/PullAPIWrapper.processPullResult (exact re-filter).
 *
 * The broker keeps `tagsCode = TAGS.hashCode()` (Java String.hashCode) per consume-queue entry and
 * filters by the subscription's code set; hash collisions let other tags through, so clients
 * re-filter by the exact tag string.
 */

/** Java `String.hashCode()`: over UTF-16 code units, `h = 31 * h + c` in int32 arithmetic. */
export function javaStringHashCode(s: string): number {
  let h = 0;
  for (let i = 0; i < s.length; i++) h = (Math.imul(31, h) + s.charCodeAt(i)) | 0;
  return h;
}

/** The subscription expression that matches every message (SubscriptionData.SUB_ALL). */
export const SUB_ALL = "*";

/**
 * A parsed TAG expression: everything, or a set of tags with their Java hash codes
 * (what the broker compares with the consume queue's tagsCode).
 */
export type TagExpression = { readonly all: true } | { readonly tags: string[]; readonly codes: number[] };

/**
 * Parses a TAG subscription as FilterAPI.buildSubscriptionData does: "" or "*" match all;
 * otherwise split on "||", trim each part and drop empty ones (duplicates are dropped too, Java
 * keeps sets). An expression with no tag left, e.g. "||", matches nothing. Never throws.
 */
export function parseTagExpression(expression: string): TagExpression {
  if (expression === "" || expression === SUB_ALL) return { all: true };
  const tags: string[] = [];
  for (const part of expression.split("||")) {
    const tag = part.trim();
    if (tag !== "" && !tags.includes(tag)) tags.push(tag);
  }
  return { tags, codes: [...new Set(tags.map(javaStringHashCode))] };
}

/**
 * Whether a message with the TAGS property `tags` (undefined when absent) passes `expression`,
 * as the broker's code filter followed by the Java client's exact re-filter decide: with a tag
 * list, a message without tags never matches.
 */
export function tagMatches(expression: string | TagExpression, tags: string | undefined): boolean {
  const parsed = typeof expression === "string" ? parseTagExpression(expression) : expression;
  if ("all" in parsed) return true;
  return tags !== undefined && parsed.tags.includes(tags);
}
