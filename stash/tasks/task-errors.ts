// The typed failures of Task resolution and AppBinding lookup. All are Stalled ReconcileErrors
// (retrying cannot help until an object changes); each names the object, the field and the
// missing piece, and none carries a secret value.
import { ReconcileError, type ObjectRef } from "../../lib/errors.ts";

export type TaskErrorCode = "TaskNotFound" | "FunctionNotFound" | "MissingParameter" | "AppBindingNotFound" | "AppBindingSecretNotFound" | "InvalidAppBinding";

export class TaskError extends ReconcileError {
  readonly code: TaskErrorCode;
  constructor(code: TaskErrorCode, message: string, opts: { object?: ObjectRef; field?: string } = {}) {
    super("Stalled", code, message, opts);
    this.name = `${code}Error`;
    this.code = code;
  }
}
