/** Flag parsing shared by `produce` and `consume`: every error names the flag at fault. */
import { parseArgs, type ParseArgsConfig } from "node:util";
import { toUsageError, UsageError } from "./usage.js";

/** A queue chosen on the command line: a queueId on every broker, or on one named broker. */
export interface QueueSelector {
  queueId: number;
  /** Set by the "broker-a#3" form; absent for a bare "3". */
  brokerName?: string;
}

/** "3" (queueId 3) or "broker-a#3" (queueId 3 of broker-a). */
export function parseQueueSelector(text: string, flag = "--queue"): QueueSelector {
  const m = /^(?:(.+)#)?(\d+)$/.exec(text.trim());
  const queueId = m ? Number(m[2]) : NaN;
  if (!m || !Number.isSafeInteger(queueId) || queueId > 0x7fffffff) {
    throw new UsageError(`${flag}: "${text}" is not a queue (a queueId such as 3, or broker-a#3)`);
  }
  return m[1] === undefined ? { queueId } : { queueId, brokerName: m[1] };
}

/** An integer in [min, max]; `flag` names the flag in the error. */
export function parseInteger(text: string, flag: string, min = 1, max = Number.MAX_SAFE_INTEGER): number {
  const n = /^\s*\d+\s*$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    const range =
      max === Number.MAX_SAFE_INTEGER ? `an integer >= ${min}` : `an integer from ${min} to ${max}`;
    throw new UsageError(`${flag}: "${text}" is not ${range}`);
  }
  return n;
}

/** The value of a required string flag, or a UsageError naming it. */
export function required(value: string | undefined, flag: string): string {
  if (value === undefined || value.trim() === "") throw new UsageError(`${flag} is required`);
  return value;
}

/** node:util parseArgs (strict, no positionals) with its errors turned into UsageErrors. */
export function parseFlags<T extends NonNullable<ParseArgsConfig["options"]>>(
  args: readonly string[],
  options: T,
  command: string,
): ReturnType<typeof parseArgs<{ options: T; strict: true; allowPositionals: false }>>["values"] {
  try {
    return parseArgs({ args: [...args], options, strict: true, allowPositionals: false }).values;
  } catch (err) {
    throw toUsageError(err, command);
  }
}
