// The contract between the HTTP layer and the per-kind admission functions. validate/mutate are
// pure apart from the lookups they are given (reads of other objects), so each can be tested with
// exact equality, and the HTTP layer owns everything about AdmissionReview.
import type { KubeObject } from "../lib/kube/client.ts";

/** One reason to refuse an object: the field it concerns and a message a user can act on. */
export interface Violation {
  field: string;
  message: string;
}

/** Reads of other objects an admission decision needs. null means "does not exist". */
export interface AdmissionLookups {
  getRepository(namespace: string, name: string): Promise<KubeObject | null>;
  getNamespace(name: string): Promise<KubeObject | null>;
  getTask(name: string): Promise<KubeObject | null>;
  getFunction(name: string): Promise<KubeObject | null>;
  listBackupConfigurations(namespace: string): Promise<KubeObject[]>;
  listRestoreSessions(namespace: string): Promise<KubeObject[]>;
  /** BackupBatches and RestoreBatches: their workload members get the sidecar / init-container too. */
  listBackupBatches(namespace: string): Promise<KubeObject[]>;
  listRestoreBatches(namespace: string): Promise<KubeObject[]>;
}

export type Operation = "CREATE" | "UPDATE" | "DELETE" | "CONNECT";

export interface AdmissionContext {
  operation: Operation;
  /** The request namespace (the object's namespace for namespaced kinds). */
  namespace: string;
  lookups: AdmissionLookups;
}

export interface KindAdmission {
  /** Returns the violations; an empty list admits the object. */
  validate?(obj: KubeObject, old: KubeObject | undefined, ctx: AdmissionContext): Promise<Violation[]>;
  /** Returns the object as it should be stored (the input is never modified). */
  mutate?(obj: KubeObject, ctx: AdmissionContext): Promise<KubeObject>;
}

export const STASH_GROUP = "stash.appscode.com";
