/** Turns a broker's response code into a value or a BrokerError. */
import { describeResponseCode } from "../protocol/codes.js";
import { BrokerError, type ErrorContext } from "../protocol/errors.js";
import type { RemotingCommand } from "../protocol/remoting-command.js";

/**
 * Returns the response when its code is in `accepted` (default: SUCCESS only), else throws a
 * BrokerError whose message names what was asked, of whom, the code name and the remark.
 */
export function expectCodes(
  response: RemotingCommand,
  what: string,
  context: ErrorContext,
  accepted: readonly number[] = [0],
): RemotingCommand {
  if (accepted.includes(response.code)) return response;
  const info = describeResponseCode(response.code);
  const where = context.address ? ` (${context.address})` : "";
  const remark = response.remark ? `: ${response.remark}` : "";
  throw new BrokerError(
    response.code,
    info.name,
    `${what}${where} failed with ${info.name}${remark}`,
    response.remark,
    {
      retriable: info.retriable,
      context,
    },
  );
}
