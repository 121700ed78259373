// The flags a step container is started with (`--key=value`, as the catalog Functions pass them)
// → a typed record. Pure. Unknown flags are kept (a newer Function may pass more); a flag given
// twice keeps the last value, as Go's flag package does.

export type StepArgs = Record<string, string>;

export function parseStepArgs(argv: readonly string[]): StepArgs {
  const out: StepArgs = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith("--")) continue;
    const eq = a.indexOf("=");
    if (eq > 2) out[a.slice(2, eq)] = a.slice(eq + 1);
    else if (i + 1 < argv.length && !argv[i + 1].startsWith("--")) out[a.slice(2)] = argv[++i];
    else out[a.slice(2)] = "true";
  }
  return out;
}

/** A comma list with the empty entries dropped. */
export function listArg(v: string | undefined): string[] {
  return (v ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
}

/** A non-negative integer flag; 0 when empty. Throws naming the flag when it is not a number. */
export function intArg(args: StepArgs, name: string): number {
  const v = args[name];
  if (v === undefined || v === "") return 0;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new Error(`flag --${name}: must be a non-negative integer, got ${JSON.stringify(v)}`);
  return n;
}

export const boolArg = (args: StepArgs, name: string, dflt = false): boolean => (args[name] === undefined || args[name] === "" ? dflt : args[name] === "true");
