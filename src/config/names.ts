/**
 * Name and address rules shared by the schema and the cross-field checks: RocketMQ topic names,
 * `/regex/` topic selectors, `${topic}` templates, `host:port` addresses, ISO-8601 timestamps and
 * tag expressions. Each check returns an error message, or undefined when the value is fine, so
 * callers can attach the message to the node it came from.
 */
import { parseTagExpression, SUB_ALL } from "../protocol/tag-hash.js";

/**
 * RocketMQ's TopicValidator (common/topic/TopicValidator.java): at most 127 characters, each a
 * letter, digit, `%`, `|`, `_` or `-`. The broker refuses anything else (a `.` included), so a
 * name that breaks this would fail at the first send, long after start-up.
 */
export const TOPIC_MAX_LENGTH = 127;
const TOPIC_CHAR = /[%|a-zA-Z0-9_-]/;

/** Why `name` is not a valid RocketMQ topic name, or undefined when it is. */
export function topicNameProblem(name: string): string | undefined {
  if (name === "") return "is empty";
  if (name.length > TOPIC_MAX_LENGTH) {
    return `is ${name.length} characters long; RocketMQ allows at most ${TOPIC_MAX_LENGTH}`;
  }
  const bad = [...new Set([...name].filter((c) => !TOPIC_CHAR.test(c)))];
  if (bad.length > 0) {
    return `contains ${bad.map((c) => JSON.stringify(c)).join(", ")}; RocketMQ topic names allow only letters, digits, %, |, _ and -`;
  }
  return undefined;
}

/** The connector's name doubles as its consumer group: RocketMQ group rules, no `%`/`|` (they mean retry/LMQ). */
export const CONNECTOR_NAME_PATTERN = /^[a-zA-Z0-9_-]{1,120}$/;
/** Cluster keys appear in route names, provenance properties and metric labels. */
export const CLUSTER_NAME_PATTERN = /^[a-zA-Z0-9_-]{1,64}$/;

/** A route's `from.topic` written as `/pattern/flags`. */
export interface ParsedRegex {
  pattern: string;
  flags: string;
}

/** Splits `/pattern/flags`; undefined when `text` is not written as a regex (then it is a topic name). */
export function splitRegexLiteral(text: string): ParsedRegex | undefined {
  if (!text.startsWith("/")) return undefined;
  const end = text.lastIndexOf("/");
  if (end === 0) return undefined;
  return { pattern: text.slice(1, end), flags: text.slice(end + 1) };
}

/**
 * Compiles a `/pattern/flags` selector. `g` and `y` are refused: they make RegExp.test stateful
 * (lastIndex), so the same topic would match on one refresh and not on the next.
 */
export function compileTopicRegex(literal: ParsedRegex): RegExp | string {
  const bad = [...literal.flags].filter((f) => !"imsuv".includes(f));
  if (bad.length > 0) return `flag(s) "${bad.join("")}" not allowed; use only i, m, s, u or v`;
  if (literal.pattern === "") return "the regex is empty";
  try {
    return new RegExp(literal.pattern, literal.flags);
  } catch (err) {
    return `is not a valid regular expression: ${err instanceof Error ? err.message : String(err)}`;
  }
}

/** Why a `from.topic` value (a name or `/regex/`) is invalid, or undefined. */
export function sourceTopicProblem(text: string): string | undefined {
  const literal = splitRegexLiteral(text);
  if (literal !== undefined) {
    const compiled = compileTopicRegex(literal);
    return typeof compiled === "string" ? compiled : undefined;
  }
  if (text.startsWith("/")) return 'starts with "/" but has no closing "/": write a regex as /pattern/';
  const problem = topicNameProblem(text);
  return problem === undefined ? undefined : `${problem} (write a regex as /pattern/)`;
}

/** The one variable a target topic template may use: the source topic's name. */
export const TEMPLATE_VARIABLE = "${topic}";
const TEMPLATE_PLACEHOLDER = /\$\{([^}]*)\}/g;

/** Why a `to.topic` template is malformed (an unknown `${...}`), or undefined. */
export function templateProblem(template: string): string | undefined {
  for (const m of template.matchAll(TEMPLATE_PLACEHOLDER)) {
    if (m[0] !== TEMPLATE_VARIABLE) {
      return `unknown template variable ${m[0]}; the only one is ${TEMPLATE_VARIABLE} (environment variables are UPPER_CASE)`;
    }
  }
  return undefined;
}

/** Applies a template: every `${topic}` becomes `sourceTopic`. */
export function applyTemplate(template: string, sourceTopic: string): string {
  return template.split(TEMPLATE_VARIABLE).join(sourceTopic);
}

/** A parsed `host:port`. IPv6 hosts are written in brackets, `[::1]:9876`, and kept without them. */
export interface HostPort {
  host: string;
  port: number;
}

/** Parses `host:port` (port 0-65535 when allowZero, else 1-65535); a string is the problem. */
export function parseHostPort(text: string, allowZero = false): HostPort | string {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([a-zA-Z0-9.-]+)):(\d{1,5})$/.exec(text);
  if (!m) return `"${text}" is not host:port (IPv6 as [::1]:9876)`;
  const port = Number(m[3]);
  if (port > 65535 || (port === 0 && !allowZero))
    return `"${text}" has port ${port}, outside ${allowZero ? 0 : 1}-65535`;
  return { host: m[1] ?? m[2] ?? "", port };
}

/** Splits a NameServer list written as "a:9876;b:9876" (RocketMQ's own notation). */
export function splitNamesrv(value: string | readonly string[]): string[] {
  const parts = typeof value === "string" ? value.split(";") : value;
  return parts.map((p) => p.trim()).filter((p) => p !== "");
}

/** Why a NameServer address list is invalid (first bad address), or undefined. */
export function namesrvProblem(value: string | readonly string[]): string | undefined {
  const addresses = splitNamesrv(value);
  if (addresses.length === 0) return "names no address; write host:port, several separated by ;";
  for (const address of addresses) {
    const parsed = parseHostPort(address);
    if (typeof parsed === "string") return parsed;
  }
  if (new Set(addresses).size !== addresses.length) return "lists an address twice";
  return undefined;
}

/**
 * ISO-8601 with date, time and an explicit zone. A zone-less time would mean the connector
 * host's local time, which differs between the laptop that wrote the file and the server.
 */
const ISO_TIMESTAMP =
  /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/;

/** Epoch milliseconds of an ISO-8601 timestamp, or the problem. */
export function parseTimestamp(text: string): number | string {
  const m = ISO_TIMESTAMP.exec(text);
  const problem = `"${text}" is not latest, earliest or an ISO-8601 timestamp with a zone, e.g. 2026-11-01T00:00:00Z`;
  if (!m) return problem;
  const [, year, month, day, hour, minute, second] = m;
  const ms = Date.parse(text);
  if (Number.isNaN(ms)) return problem;
  // Date.parse rolls over impossible dates (Feb 30 -> Mar 2); check the fields against the result.
  const check = new Date(Date.UTC(Number(year), Number(month) - 1, Number(day)));
  if (
    check.getUTCFullYear() !== Number(year) ||
    check.getUTCMonth() !== Number(month) - 1 ||
    check.getUTCDate() !== Number(day) ||
    Number(hour) > 23 ||
    Number(minute) > 59 ||
    Number(second ?? 0) > 59
  ) {
    return `"${text}" is not a valid date and time`;
  }
  return ms;
}

/**
 * Why a tag expression is suspicious enough to refuse, or undefined. RocketMQ itself accepts
 * anything (FilterAPI splits on "||"), so these are the mistakes that silently replicate nothing
 * or the wrong thing: an expression left with no tag, a single "|", "*" among tags (it is only
 * "all" on its own), or blanks inside a tag (a forgotten "||").
 */
export function tagExpressionProblem(expression: string): string | undefined {
  const parsed = parseTagExpression(expression);
  if ("all" in parsed) return undefined;
  if (parsed.tags.length === 0)
    return `"${expression}" names no tag and would match nothing; use "*" for all`;
  for (const tag of parsed.tags) {
    if (tag === SUB_ALL) return `"*" means all tags only on its own, not combined with others`;
    if (tag.includes("|")) return `tag "${tag}" contains "|"; separate tags with "||"`;
    if (/\s/.test(tag)) return `tag "${tag}" contains a blank; separate tags with "||"`;
  }
  return undefined;
}
