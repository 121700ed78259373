// A small structured logger: one JSON line per record, fields inherited by child loggers, secret
// values redacted before anything is written. No global logger: main builds one and passes it.
import { redact } from "./errors.ts";

export type Level = "debug" | "info" | "warn" | "error";
const ORDER: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  child(fields: Record<string, unknown>): Logger;
  /** Registers values that must never appear in output (passwords, keys). */
  addSecrets(values: Iterable<string>): void;
}

export interface LoggerOptions {
  level?: Level;
  /** Where lines go; default process.stderr. */
  write?: (line: string) => void;
  now?: () => Date;
  fields?: Record<string, unknown>;
}

export function createLogger(opts: LoggerOptions = {}): Logger {
  const min = ORDER[opts.level ?? "info"];
  const write = opts.write ?? ((line: string) => process.stderr.write(line + "\n"));
  const now = opts.now ?? (() => new Date());
  const secrets = new Set<string>();
  const make = (base: Record<string, unknown>): Logger => {
    const emit = (level: Level, msg: string, fields?: Record<string, unknown>) => {
      if (ORDER[level] < min) return;
      const rec: Record<string, unknown> = { ts: now().toISOString(), level, msg, ...base, ...fields };
      for (const [k, v] of Object.entries(rec)) if (v instanceof Error) rec[k] = v.message;
      write(redact(JSON.stringify(rec), secrets));
    };
    return {
      debug: (m, f) => emit("debug", m, f),
      info: (m, f) => emit("info", m, f),
      warn: (m, f) => emit("warn", m, f),
      error: (m, f) => emit("error", m, f),
      child: (f) => make({ ...base, ...f }),
      addSecrets: (values) => {
        for (const v of values) if (v) secrets.add(v);
      },
    };
  };
  return make(opts.fields ?? {});
}

/** A logger that drops everything (tests that do not look at logs). */
export function silentLogger(): Logger {
  return createLogger({ write: () => {} });
}
