// The typed failures of the restic engine. Each is a ReconcileError (lib/errors.ts), so the kind
// (Stalled / Waiting / Transient) tells a caller whether to retry, and the reason doubles as a
// condition reason. Messages carry restic's own words with every secret value redacted.
//
//   InvalidBackendError     Stalled    the Repository spec or its Secret lacks a field/key
//   WrongPasswordError      Stalled    RESTIC_PASSWORD opens no key (restic exit 12)
//   RepositoryNotFoundError Transient  no repository at the URL yet (restic exit 10)
//   BackendUnreachableError Transient  connection refused, DNS, TLS, auth at the storage
//   RepositoryLockedError   Waiting    a live lock is held (restic exit 11) after the bounded wait
//   NothingToBackUpError    Transient  the path is missing, empty or unreadable: never a success
//   IncompleteBackupError   Transient  restic saved a snapshot but could not read some files (exit 3)
//   SnapshotNotFoundError   Stalled    no snapshot matches the id / host / path asked for
//   PipeCommandError        Transient  the command feeding --stdin or reading dump failed
//   ResticFailedError       Transient  anything else, with the exit code and a redacted stderr tail
import { ReconcileError, type ErrorKind, type ObjectRef } from "../lib/errors.ts";

export type ResticErrorCode =
  | "InvalidBackend"
  | "WrongPassword"
  | "RepositoryNotFound"
  | "BackendUnreachable"
  | "RepositoryLocked"
  | "NothingToBackUp"
  | "IncompleteBackup"
  | "SnapshotNotFound"
  | "PipeCommandFailed"
  | "ResticFailed";

export class ResticError extends ReconcileError {
  readonly code: ResticErrorCode;
  readonly exitCode?: number;
  constructor(
    code: ResticErrorCode,
    kind: ErrorKind,
    message: string,
    opts: { exitCode?: number; object?: ObjectRef; field?: string; retryAfterMs?: number; cause?: unknown } = {},
  ) {
    super(kind, code, message, opts);
    this.name = `${code}Error`;
    this.code = code;
    this.exitCode = opts.exitCode;
  }
}

export class InvalidBackendError extends ResticError {
  constructor(repository: ObjectRef, field: string, problem: string) {
    super("InvalidBackend", "Stalled", problem, { object: repository, field });
  }
}

export class WrongPasswordError extends ResticError {
  constructor(repository: string, exitCode?: number) {
    super("WrongPassword", "Stalled", `wrong password for restic repository ${repository}: RESTIC_PASSWORD opens no key`, { exitCode });
  }
}

export class RepositoryNotFoundError extends ResticError {
  constructor(repository: string, exitCode?: number) {
    super("RepositoryNotFound", "Transient", `no restic repository at ${repository}`, { exitCode });
  }
}

export class BackendUnreachableError extends ResticError {
  constructor(repository: string, detail: string, exitCode?: number) {
    super("BackendUnreachable", "Transient", `storage backend of ${repository} is unreachable: ${detail}`, { exitCode });
  }
}

export interface LockHolder {
  id: string;
  hostname: string;
  pid: number;
  exclusive: boolean;
  time: string;
}

export class RepositoryLockedError extends ResticError {
  readonly holders: LockHolder[];
  constructor(repository: string, detail: string, holders: LockHolder[] = [], exitCode?: number, retryAfterMs = 30_000) {
    super("RepositoryLocked", "Waiting", `restic repository ${repository} is locked: ${detail}`, { exitCode, retryAfterMs });
    this.holders = holders;
  }
}

export class NothingToBackUpError extends ResticError {
  readonly path: string;
  constructor(path: string, why: string) {
    super("NothingToBackUp", "Transient", `nothing to back up at ${path}: ${why}`);
    this.path = path;
  }
}

export class IncompleteBackupError extends ResticError {
  readonly snapshotId?: string;
  readonly unreadable: string[];
  constructor(path: string, unreadable: string[], snapshotId?: string) {
    const list = unreadable.slice(0, 5).join(", ") + (unreadable.length > 5 ? `, and ${unreadable.length - 5} more` : "");
    super("IncompleteBackup", "Transient", `backup of ${path} is incomplete: ${unreadable.length} item(s) could not be read (${list})`, { exitCode: 3 });
    this.snapshotId = snapshotId;
    this.unreadable = unreadable;
  }
}

export class SnapshotNotFoundError extends ResticError {
  constructor(what: string) {
    super("SnapshotNotFound", "Stalled", `no snapshot matches ${what}`);
  }
}

export class PipeCommandError extends ResticError {
  constructor(command: string, exitCode: number | null, signal: string | null, stderrTail: string) {
    const how = signal ? `was killed by ${signal}` : `exited with code ${exitCode}`;
    super("PipeCommandFailed", "Transient", `command ${command} ${how}${stderrTail ? `: ${stderrTail}` : ""}`, { exitCode: exitCode ?? undefined });
  }
}

export class ResticFailedError extends ResticError {
  constructor(verb: string, exitCode: number | null, detail: string) {
    super("ResticFailed", "Transient", `restic ${verb} failed (exit ${exitCode ?? "signal"}): ${detail}`, { exitCode: exitCode ?? undefined });
  }
}
