/**
 * Durations on the command line: "500ms", "5s", "2m", "1h", "1.5s", or a sum such as "1m30s".
 * A bare number is refused: "5" could mean seconds or milliseconds, and guessing wrong turns a
 * 5-second timeout into a 5-millisecond one.
 */
import { UsageError } from "./usage.js";

const UNIT_MS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/**
 * Parses `text` into milliseconds (rounded to an integer, >= 0). `flag` (e.g. "--timeout")
 * names the flag in the error. Throws UsageError for anything else.
 */
export function parseDuration(text: string, flag: string): number {
  const trimmed = text.trim();
  const part = /(\d+(?:\.\d+)?|\.\d+)(ms|s|m|h)/y;
  let total = 0;
  let pos = 0;
  while (pos < trimmed.length) {
    part.lastIndex = pos;
    const m = part.exec(trimmed);
    if (!m) break;
    total += Number(m[1]) * (UNIT_MS[m[2] as string] as number);
    pos = part.lastIndex;
  }
  if (trimmed.length === 0 || pos !== trimmed.length || !Number.isFinite(total)) {
    throw new UsageError(`${flag}: "${text}" is not a duration (examples: 500ms, 5s, 2m, 1h, 1m30s)`);
  }
  return Math.round(total);
}
