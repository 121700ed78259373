// The `any`s left in production code, counted: each must sit at a true boundary (JSON before it is
// validated, a library's untyped callback) and say why in a comment on its line or the line above.
// The budget only goes down. Run by `npm run lint` and by scripts/any-budget.test.ts.
import { globSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import ts from "typescript";
import { LAYERS } from "./import-layers.ts";

const root = resolve(import.meta.dirname, "..");

/** The most `any`s production code may hold. Lower it when you remove some; never raise it. */
export const ANY_BUDGET = 3;

export interface AnyUse {
  file: string;
  line: number;
  text: string;
  /** The comment that says why (same line or the line above), if any. */
  reason?: string;
}

/** Production files: the layered folders, without tests and generated code. */
export function productionFiles(dir = root): string[] {
  return globSync(
    Object.keys(LAYERS).map((f) => `${f}/**/*.ts`),
    { cwd: dir },
  )
    .filter((f) => !f.endsWith(".test.ts") && !f.endsWith(".d.ts") && !f.endsWith(".generated.ts"))
    .sort();
}

/** Every `any` keyword in `source` (TypeScript's own parser: comments and strings don't count). */
export function anysIn(file: string, source: string): AnyUse[] {
  const sf = ts.createSourceFile(file, source, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const lines = source.split("\n");
  const found: AnyUse[] = [];
  const visit = (n: ts.Node) => {
    if (n.kind === ts.SyntaxKind.AnyKeyword) {
      const line = sf.getLineAndCharacterOfPosition(n.getStart(sf)).line;
      const here = lines[line] ?? "";
      const above = lines[line - 1]?.trim() ?? "";
      const reason = here.match(/\/\/\s*(.+)$/)?.[1] ?? (above.startsWith("//") ? above.replace(/^\/\/\s*/, "") : undefined);
      found.push({ file, line: line + 1, text: here.trim(), reason });
    }
    ts.forEachChild(n, visit);
  };
  visit(sf);
  return found;
}

export function productionAnys(dir = root): AnyUse[] {
  return productionFiles(dir).flatMap((f) => anysIn(f, readFileSync(join(dir, f), "utf8")));
}

if (import.meta.main) {
  const uses = productionAnys();
  const perFolder = new Map<string, number>();
  for (const u of uses) perFolder.set(u.file.split("/")[0], (perFolder.get(u.file.split("/")[0]) ?? 0) + 1);
  const verbose = process.argv.includes("--list");
  if (verbose) for (const u of uses) console.log(`${u.file}:${u.line}: ${u.text}${u.reason ? `   // ${u.reason}` : "   (no reason)"}`);
  console.log(`${uses.length} any in production code (budget ${ANY_BUDGET}): ${[...perFolder].map(([f, n]) => `${f} ${n}`).join(", ")}`);
  if (uses.length > ANY_BUDGET) {
    console.error(`more \`any\` than the budget (${uses.length} > ${ANY_BUDGET}): type the new code (schema/types.generated.ts, client-node's models)`);
    process.exit(1);
  }
}
