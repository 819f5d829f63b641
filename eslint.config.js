// Lint: typescript-eslint's type-aware rules on every TypeScript file (src, test, bench, scripts);
// formatting is Prettier's job. Type-aware because the rules that matter most in a replicator
// need types: an unawaited promise (no-floating-promises) or a promise handed to a callback that
// ignores it (no-misused-promises) loses its error and lets work run out of order, silently.
import { fileURLToPath, URL } from "node:url";
import js from "@eslint/js";
import tseslint from "typescript-eslint";

/** node:test's describe/it/hooks return promises the runner itself tracks: not floating. */
const nodeTestCalls = {
  from: "package",
  package: "node:test",
  name: ["describe", "it", "test", "suite", "before", "after", "beforeEach", "afterEach"],
};

export default tseslint.config(
  { ignores: ["dist/", "node_modules/", "bench/java/"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ["**/*.ts"],
    extends: [...tseslint.configs.recommendedTypeChecked],
    languageOptions: {
      // One TypeScript program from tsconfig.json serves every file (tsconfig includes them all);
      // import.meta.dirname would need Node 20.11, the engines field allows 20.9.
      parserOptions: { projectService: true, tsconfigRootDir: fileURLToPath(new URL(".", import.meta.url)) },
    },
    rules: {
      "@typescript-eslint/no-floating-promises": ["error", { allowForKnownSafeCalls: [nodeTestCalls] }],
      // `return promise` inside try skips the catch and finally that were meant to cover it.
      "@typescript-eslint/return-await": ["error", "in-try-catch"],
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
    },
  },
  {
    files: ["src/**/*.ts"],
    rules: {
      "@typescript-eslint/no-explicit-any": "error",
      "no-restricted-syntax": [
        "error",
        { selector: "TSEnumDeclaration", message: "Use an `as const` object instead of enum." },
      ],
    },
  },
  {
    files: ["test/**/*.ts", "bench/**/*.ts"],
    rules: {
      // Fakes implement async interfaces without needing to await anything.
      "@typescript-eslint/require-await": "off",
    },
  },
  {
    files: ["scripts/**/*.mjs"],
    languageOptions: { globals: { process: "readonly", console: "readonly", URL: "readonly" } },
  },
);
