// The contract between the HTTP layer and the per-kind admission functions. validate/mutate are
// pure apart from the lookups they are given (reads of other objects), so each can be tested with
// exact equality, and the HTTP layer owns everything about AdmissionReview.
import type { KubeObject } from "../lib/kube/client.ts";
import type { BackupBatch, BackupConfiguration, Function as StashFunction, Repository, RestoreBatch, RestoreSession, Task } from "../schema/types.generated.ts";

/** One reason to refuse an object: the field it concerns and a message a user can act on. */
export interface Violation {
  field: string;
  message: string;
}

/** Reads of other objects an admission decision needs. null means "does not exist". */
export interface AdmissionLookups {
  getRepository(namespace: string, name: string): Promise<Repository | null>;
  getNamespace(name: string): Promise<KubeObject | null>;
  getTask(name: string): Promise<Task | null>;
  getFunction(name: string): Promise<StashFunction | null>;
  listBackupConfigurations(namespace: string): Promise<BackupConfiguration[]>;
  listRestoreSessions(namespace: string): Promise<RestoreSession[]>;
  /** BackupBatches and RestoreBatches: their workload members get the sidecar / init-container too. */
  listBackupBatches(namespace: string): Promise<BackupBatch[]>;
  listRestoreBatches(namespace: string): Promise<RestoreBatch[]>;
}

export type Operation = "CREATE" | "UPDATE" | "DELETE" | "CONNECT";

export interface AdmissionContext {
  operation: Operation;
  /** The request namespace (the object's namespace for namespaced kinds). */
  namespace: string;
  lookups: AdmissionLookups;
}

/** The objects of a review are what the API server sent: of the kind the handler is registered for, not checked by restash. */
export interface KindAdmission {
  /** Returns the violations; an empty list admits the object. */
  validate?(obj: KubeObject, old: KubeObject | undefined, ctx: AdmissionContext): Promise<Violation[]>;
  /** Returns the object as it should be stored (the input is never modified). */
  mutate?(obj: KubeObject, ctx: AdmissionContext): Promise<KubeObject>;
}

/**
 * A validating webhook of one kind `T`. The API server calls validating webhooks only after the object
 * passed the CRD's schema (and `old` is the object as stored), so both are of the generated type.
 */
export function validating<T extends KubeObject>(
  validate: (obj: T, old: T | undefined, ctx: AdmissionContext) => Promise<Violation[]>,
): NonNullable<KindAdmission["validate"]> {
  return (obj, old, ctx) => validate(obj as T, old as T | undefined, ctx);
}

export const STASH_GROUP = "stash.appscode.com";
