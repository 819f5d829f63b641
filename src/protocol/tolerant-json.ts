/**
 * A JSON reader for the bodies RocketMQ servers send. fastjson writes maps with numeric keys
 * unquoted (`{0:"127.0.0.1:10911"}`) in ClusterInfo, GET_ALL_CONSUMER_OFFSET and, for old
 * clients, TopicRouteData; JSON.parse rejects that. This reader accepts standard JSON plus
 * unquoted keys made of letters, digits, `_`, `-`, `.` and `$`. Unquoted keys are kept as
 * strings. Large integers that do not fit a double are returned as strings of digits so that
 * no offset is silently rounded.
 *
 * Throws ProtocolError naming the position on malformed input.
 */
import { ProtocolError } from "./errors.js";

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

const BARE_KEY = /[A-Za-z0-9_\-.$]/;

/**
 * Deepest nesting accepted. The reader is recursive: without a limit, a body of 100 000 "[" ends in
 * a stack-overflow RangeError instead of a ProtocolError. RocketMQ bodies nest a handful of levels.
 */
const MAX_DEPTH = 512;

export function parseTolerantJson(text: string): JsonValue {
  // Fast path: most bodies are standard JSON, and JSON.parse is much faster than this reader.
  // A long digit run matters only as a bare number (a value after ":", "[" or ","), not inside a
  // string such as a hex message id, which every send response header carries.
  if (!/[{,]\s*[A-Za-z0-9_\-.$]/.test(text) && !/(?:^|[:[,])\s*-?\d{16,}/.test(text)) {
    try {
      return JSON.parse(text) as JsonValue;
    } catch {
      // fall through to the tolerant reader, which reports a position
    }
  }
  let pos = 0;
  const fail = (what: string): never => {
    throw new ProtocolError(`malformed JSON body at character ${pos}: ${what}`);
  };
  const skipWs = (): void => {
    while (pos < text.length) {
      const c = text.charCodeAt(pos);
      if (c === 32 || c === 9 || c === 10 || c === 13) pos++;
      else break;
    }
  };
  const parseString = (): string => {
    const start = pos;
    pos++; // opening quote
    let hasEscape = false;
    while (pos < text.length) {
      const c = text[pos];
      if (c === "\\") {
        hasEscape = true;
        pos += 2;
        continue;
      }
      if (c === '"') {
        pos++;
        const raw = text.slice(start, pos);
        if (!hasEscape) return raw.slice(1, -1);
        try {
          return JSON.parse(raw) as string;
        } catch {
          return fail("bad string escape");
        }
      }
      pos++;
    }
    return fail("unterminated string");
  };
  const parseNumber = (): number | string => {
    const m = /^-?\d+(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(pos, pos + 64));
    if (!m) return fail("bad number");
    pos += m[0].length;
    const n = Number(m[0]);
    if (m[1] === undefined && m[2] === undefined && !Number.isSafeInteger(n)) return m[0];
    return n;
  };
  const parseValue = (): JsonValue => {
    skipWs();
    const c = text[pos];
    if (c === "{") return parseObject();
    if (c === "[") return parseArray();
    if (c === '"') return parseString();
    if (c === "-" || (c !== undefined && c >= "0" && c <= "9")) return parseNumber();
    if (text.startsWith("true", pos)) {
      pos += 4;
      return true;
    }
    if (text.startsWith("false", pos)) {
      pos += 5;
      return false;
    }
    if (text.startsWith("null", pos)) {
      pos += 4;
      return null;
    }
    return fail(c === undefined ? "unexpected end" : `unexpected character ${JSON.stringify(c)}`);
  };
  const parseKey = (): string => {
    skipWs();
    if (text[pos] === '"') return parseString();
    const start = pos;
    while (pos < text.length && BARE_KEY.test(text[pos] as string)) pos++;
    if (pos === start) fail("expected an object key");
    return text.slice(start, pos);
  };
  let depth = 0;
  const parseObject = (): JsonValue => {
    if (++depth > MAX_DEPTH) fail(`nesting deeper than ${MAX_DEPTH}`);
    pos++;
    const out: { [key: string]: JsonValue } = {};
    skipWs();
    if (text[pos] === "}") {
      pos++;
      depth--;
      return out;
    }
    for (;;) {
      const key = parseKey();
      skipWs();
      if (text[pos] !== ":") fail("expected ':'");
      pos++;
      const value = parseValue();
      // A plain assignment to "__proto__" would replace the prototype instead of adding a key
      // (JSON.parse adds an own property; so do we).
      if (key === "__proto__")
        Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
      else out[key] = value;
      skipWs();
      if (text[pos] === ",") {
        pos++;
        continue;
      }
      if (text[pos] === "}") {
        pos++;
        depth--;
        return out;
      }
      fail("expected ',' or '}'");
    }
  };
  const parseArray = (): JsonValue => {
    if (++depth > MAX_DEPTH) fail(`nesting deeper than ${MAX_DEPTH}`);
    pos++;
    const out: JsonValue[] = [];
    skipWs();
    if (text[pos] === "]") {
      pos++;
      depth--;
      return out;
    }
    for (;;) {
      out.push(parseValue());
      skipWs();
      if (text[pos] === ",") {
        pos++;
        continue;
      }
      if (text[pos] === "]") {
        pos++;
        depth--;
        return out;
      }
      fail("expected ',' or ']'");
    }
  };
  const value = parseValue();
  skipWs();
  if (pos !== text.length) fail("trailing characters");
  return value;
}
