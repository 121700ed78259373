// AdmissionReview in and out. The per-kind functions decide; this layer checks the envelope
// (a malformed review is a 400, never a crash), turns violations into a denial naming the object
// and field, turns a mutation into a JSON Patch, and fails closed: a thrown error denies the request.
import type { KubeObject } from "../lib/kube/client.ts";
import type { Logger } from "../lib/logger.ts";
import type { AdmissionLookups, KindAdmission, Operation, Violation } from "./types.ts";
import { jsonPatch } from "./json-patch.ts";

export type Mode = "validate" | "mutate";

/** Handlers keyed by `<group>/<Kind>` (core group: `/<Kind>`). */
export type AdmissionRegistry = Map<string, KindAdmission>;

export const registryKey = (group: string, kind: string) => `${group}/${kind}`;

export interface ReviewOutcome {
  /** HTTP status: 200 for every well-formed review (allowed or not), 400 for a malformed one. */
  status: number;
  body: unknown;
}

/** An AdmissionReview (admission.k8s.io/v1) whose envelope malformedReason accepted. */
export interface AdmissionReviewRequest {
  apiVersion: string;
  kind: "AdmissionReview";
  request: {
    uid: string;
    kind: { group?: string; version?: string; kind: string };
    operation: Operation;
    namespace?: string;
    name?: string;
    /** As sent: of the registered kind, not checked by restash (validating webhooks see it after the CRD schema did). */
    object?: KubeObject | null;
    oldObject?: KubeObject | null;
    [key: string]: unknown;
  };
}

const OPERATIONS = new Set(["CREATE", "UPDATE", "DELETE", "CONNECT"]);
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** Why the envelope is unusable, or undefined when it is fine. */
export function malformedReason(body: unknown): string | undefined {
  if (!isObject(body)) return "the request body is not a JSON object";
  if (body.kind !== "AdmissionReview") return `kind must be AdmissionReview (got ${JSON.stringify(body.kind)})`;
  if (body.apiVersion !== "admission.k8s.io/v1" && body.apiVersion !== "admission.k8s.io/v1beta1") {
    return `apiVersion must be admission.k8s.io/v1 (got ${JSON.stringify(body.apiVersion)})`;
  }
  const r = body.request;
  if (!isObject(r)) return "request is missing";
  if (typeof r.uid !== "string" || !r.uid) return "request.uid is missing";
  if (!isObject(r.kind) || typeof r.kind.kind !== "string") return "request.kind is missing";
  if (typeof r.operation !== "string" || !OPERATIONS.has(r.operation))
    return `request.operation must be one of CREATE, UPDATE, DELETE, CONNECT (got ${JSON.stringify(r.operation)})`;
  if (r.object !== undefined && r.object !== null && !isObject(r.object)) return "request.object is not an object";
  if (r.oldObject !== undefined && r.oldObject !== null && !isObject(r.oldObject)) return "request.oldObject is not an object";
  return undefined;
}

export function denialMessage(obj: KubeObject, violations: Violation[]): string {
  const ns = obj.metadata?.namespace;
  const name = obj.metadata?.name ?? obj.metadata?.generateName ?? "";
  const who = `${obj.kind} ${ns ? `${ns}/` : ""}${name}`;
  return violations.map((v) => `${who}: ${v.field}: ${v.message}`).join("; ");
}

function respond(apiVersion: string, uid: string, response: Record<string, unknown>): ReviewOutcome {
  return { status: 200, body: { apiVersion, kind: "AdmissionReview", response: { uid, ...response } } };
}

/** Decides one AdmissionReview. Never throws. */
export async function review(body: unknown, mode: Mode, registry: AdmissionRegistry, lookups: AdmissionLookups, log?: Logger): Promise<ReviewOutcome> {
  const bad = malformedReason(body);
  if (bad) {
    return {
      status: 400,
      body: { apiVersion: "v1", kind: "Status", status: "Failure", reason: "BadRequest", code: 400, message: `malformed AdmissionReview: ${bad}` },
    };
  }
  const { apiVersion, request: r } = body as AdmissionReviewRequest;
  const uid = r.uid;
  const handler = registry.get(registryKey(r.kind.group ?? "", r.kind.kind));
  const obj = r.object;
  if (!handler || !obj || r.operation === "DELETE" || r.operation === "CONNECT") return respond(apiVersion, uid, { allowed: true });
  // The object may come without a namespace on CREATE (it is taken from the URL).
  const namespace = r.namespace ?? obj.metadata?.namespace ?? "";
  const object: KubeObject = { ...obj, metadata: { ...(obj.metadata ?? {}), ...(namespace && !obj.metadata?.namespace ? { namespace } : {}) } };
  const ctx = { operation: r.operation, namespace, lookups };
  try {
    if (mode === "validate") {
      if (!handler.validate) return respond(apiVersion, uid, { allowed: true });
      const violations = await handler.validate(object, r.oldObject ?? undefined, ctx);
      if (violations.length === 0) return respond(apiVersion, uid, { allowed: true });
      const message = denialMessage(object, violations);
      log?.info("admission denied", { kind: obj.kind, namespace, name: obj.metadata?.name, operation: r.operation, message });
      return respond(apiVersion, uid, { allowed: false, status: { code: 403, reason: "Forbidden", message } });
    }
    if (!handler.mutate) return respond(apiVersion, uid, { allowed: true });
    const mutated = await handler.mutate(object, ctx);
    // Compare against what the API server sent, so the namespace filled in above is never patched in.
    const ops = jsonPatch(obj, { ...mutated, metadata: { ...mutated.metadata, namespace: obj.metadata?.namespace } });
    if (ops.length === 0) return respond(apiVersion, uid, { allowed: true });
    return respond(apiVersion, uid, { allowed: true, patchType: "JSONPatch", patch: Buffer.from(JSON.stringify(ops)).toString("base64") });
  } catch (e) {
    // Fail closed: an error while deciding refuses the request with the reason.
    const message = `restash admission ${mode} failed for ${obj.kind} ${namespace ? `${namespace}/` : ""}${obj.metadata?.name ?? ""}: ${e instanceof Error ? e.message : String(e)}`;
    log?.error("admission error", { kind: obj.kind, namespace, name: obj.metadata?.name, operation: r.operation, error: message });
    return respond(apiVersion, uid, { allowed: false, status: { code: 500, reason: "InternalError", message } });
  }
}
