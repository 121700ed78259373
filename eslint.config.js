// `npm run lint`: typescript-eslint's recommended rules over every TypeScript file, with prettier for
// the layout (prettier --check) and scripts/import-layers.ts for the direction of imports.
import js from "@eslint/js";
import tseslint from "typescript-eslint";
import globals from "globals";

export default tseslint.config(
  { ignores: ["node_modules/**", ".restash/**", "schema/types.generated.ts"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: globals.node },
    rules: {
      // `any` at the API boundary is what issue 16 removes; its count is checked there, not here.
      "@typescript-eslint/no-explicit-any": "off",
      // A leading underscore marks a value kept for its position (a destructured rest, an unused handler argument).
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_", caughtErrors: "none", ignoreRestSiblings: true }],
    },
  },
  // The one CommonJS file: the shim that checks Node's version before any TypeScript loads.
  { files: ["**/*.cjs"], languageOptions: { sourceType: "commonjs" }, rules: { "@typescript-eslint/no-require-imports": "off" } },
);
