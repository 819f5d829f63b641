/**
 * Environment interpolation in string values: `${VAR}`, `${VAR:-default}`, `${VAR:?message}`
 * (and `${VAR-default}` / `${VAR?message}`, which treat a set-but-empty variable as set, as in
 * POSIX shells and Docker Compose).
 *
 * Only UPPER_CASE names ([A-Z_][A-Z0-9_]*) are environment variables. Anything else in `${...}`
 * is left as written, which is how the target topic template `east_${topic}` survives: its
 * `${topic}` is lower case. `$${` is an escape for a literal `${` (e.g. a secret containing
 * `${X}`).
 */

/** One expression found in a string value. */
export interface InterpolationError {
  /** Offset of the `${` within the value as written. */
  index: number;
  /** The expression as written, e.g. `${EAST_AK}`. */
  expression: string;
  message: string;
}

export interface InterpolationResult {
  value: string;
  errors: InterpolationError[];
  /** True when at least one variable was substituted (then a plain YAML scalar is re-typed). */
  substituted: boolean;
  /** `${...}` left in the value that are not environment variables (e.g. `${topic}`, `${east_ak}`). */
  leftovers: { index: number; expression: string }[];
}

const EXPRESSION = /\$\$\{|\$\{([A-Z_][A-Z0-9_]*)(?:(:?[-?])([^}]*))?\}|\$\{[^}]*\}/g;

/** Interpolates one string value against `env`; never throws, errors are returned. */
export function interpolate(
  text: string,
  env: Readonly<Record<string, string | undefined>>,
): InterpolationResult {
  const errors: InterpolationError[] = [];
  const leftovers: { index: number; expression: string }[] = [];
  let substituted = false;
  const value = text.replace(
    EXPRESSION,
    (
      expression: string,
      name: string | undefined,
      op: string | undefined,
      arg: string | undefined,
      index: number,
    ) => {
      if (expression === "$${") return "${";
      if (name === undefined) {
        leftovers.push({ index, expression });
        return expression;
      }
      substituted = true;
      const raw = env[name];
      // ":" forms treat an empty variable like an unset one; the bare forms only an unset one.
      const missing = op?.startsWith(":") === true ? raw === undefined || raw === "" : raw === undefined;
      if (!missing) return raw ?? "";
      if (op === ":-" || op === "-") return arg ?? "";
      if (op === ":?" || op === "?") {
        const state = raw === undefined ? "not set" : "empty";
        const why = arg !== undefined && arg !== "" ? `: ${arg}` : " and is required";
        errors.push({ index, expression, message: `environment variable ${name} is ${state}${why}` });
        return "";
      }
      errors.push({
        index,
        expression,
        message: `environment variable ${name} is not set (a default: \${${name}:-default})`,
      });
      return "";
    },
  );
  return { value, errors, substituted, leftovers };
}
