// The shapes that flow through the sync: files read from a revision, objects rendered from them,
// and errors that point back at a file and line.
import type { KubeObject } from "../lib/kube/client.ts";

export type { KubeObject };

/** A problem in the policy files: which file, line and field broke, and why. */
export interface SourceError {
  file: string;
  line: number;
  column?: number;
  object?: string;
  field?: string;
  message: string;
}

/** A policy file as read from a revision (path relative to the source path, "/" separated). */
export interface PolicyFile {
  path: string;
  content: string;
}

/** An object the policy files produce, with the document it came from. */
export interface RenderedObject {
  object: KubeObject;
  file: string;
  line: number;
  /** Kind of the document that produced it (BackupPolicy renders into two objects). */
  from: string;
  /** The producing document, when it is not the object itself ("BackupPolicy ns/web"). */
  fromName?: string;
}

export interface BuildResult {
  objects: RenderedObject[];
  errors: SourceError[];
  /** Line of a field of a rendered object, in the document it came from. */
  locate?: (o: RenderedObject, field: string) => number;
}

export const STASH_GROUP = "stash.appscode.com";
export const RESTASH_GROUP = "restash.dev";
export const REPOSITORY_API = "stash.appscode.com/v1alpha1";
export const STASH_V1BETA1 = "stash.appscode.com/v1beta1";
export const RESTASH_API = "restash.dev/v1alpha1";

/** Stash kinds with no namespace. */
export const CLUSTER_SCOPED_KINDS = new Set(["BackupBlueprint", "Task", "Function"]);

export function objectName(o: KubeObject): string {
  const ns = o.metadata?.namespace;
  return `${o.kind} ${ns ? `${ns}/` : ""}${o.metadata?.name ?? "<no name>"}`;
}

export function groupOf(apiVersion: string): string {
  const i = apiVersion.indexOf("/");
  return i < 0 ? "" : apiVersion.slice(0, i);
}

/** Inventory id, as Flux writes it: <namespace>_<name>_<group>_<kind>. */
export function inventoryId(o: KubeObject): string {
  return `${o.metadata.namespace ?? ""}_${o.metadata.name}_${groupOf(o.apiVersion)}_${o.kind}`;
}

export function formatSourceError(e: SourceError): string {
  const where = `${e.file}:${e.line}${e.column ? `:${e.column}` : ""}`;
  const what = [e.object, e.field ? `field ${e.field}` : ""].filter(Boolean).join(" ");
  return `${where}: ${what ? `${what}: ` : ""}${e.message}`;
}
