// TypeScript types from the CRD schemas in schema/crds, so the types follow the API instead of
// being a second hand-kept copy of it. `npm run schema:types` rewrites schema/types.generated.ts;
// schema/generate-types.test.ts fails when that file is stale.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { crdFiles, type CrdFile } from "./install.ts";
import type { JsonSchema } from "./json-schema.ts";

type Schema = JsonSchema;

/**
 * Shapes the CRDs repeat (a target, a hook, a condition, ...) get one exported name each, so the code
 * says `BackupTarget` instead of `NonNullable<BackupConfigurationSpec["target"]>`. A name is given by
 * one place; every schema node equal to that one (same properties, same descriptions) takes the name.
 */
export const NAMED: Array<[name: string, kind: string, path: string]> = [
  ["Condition", "BackupSession", "status.conditions[]"],
  ["Param", "Task", "spec.steps[].params[]"],
  ["TaskRef", "BackupConfiguration", "spec.task"],
  ["TaskStep", "Task", "spec.steps[]"],
  ["RuntimeSettings", "BackupConfiguration", "spec.runtimeSettings"],
  ["EmptyDirSettings", "BackupConfiguration", "spec.tempDir"],
  ["TargetRef", "BackupConfiguration", "spec.target.ref"],
  ["TargetVolumeMount", "BackupConfiguration", "spec.target.volumeMounts[]"],
  ["BackupTarget", "BackupConfiguration", "spec.target"],
  ["RestoreTarget", "RestoreSession", "spec.target"],
  ["RestoreRule", "RestoreSession", "spec.rules[]"],
  ["RepositoryRef", "BackupConfiguration", "spec.repository"],
  ["RetentionPolicy", "BackupConfiguration", "spec.retentionPolicy"],
  ["RetryConfig", "BackupConfiguration", "spec.retryConfig"],
  ["HTTPHeader", "BackupConfiguration", "spec.hooks.preBackup.httpGet.httpHeaders[]"],
  ["HTTPGetAction", "BackupConfiguration", "spec.hooks.preBackup.httpGet"],
  ["HTTPPostAction", "BackupConfiguration", "spec.hooks.preBackup.httpPost"],
  ["TCPSocketAction", "BackupConfiguration", "spec.hooks.preBackup.tcpSocket"],
  ["BackupHooks", "BackupConfiguration", "spec.hooks"],
  ["PreBackupHook", "BackupConfiguration", "spec.hooks.preBackup"],
  ["PostBackupHook", "BackupConfiguration", "spec.hooks.postBackup"],
  ["RestoreHooks", "RestoreSession", "spec.hooks"],
  ["PreRestoreHook", "RestoreSession", "spec.hooks.preRestore"],
  ["PostRestoreHook", "RestoreSession", "spec.hooks.postRestore"],
  ["BackupBatchMember", "BackupBatch", "spec.members[]"],
  ["RestoreBatchMember", "RestoreBatch", "spec.members[]"],
  ["MemberConditions", "BackupBatch", "status.memberConditions[]"],
  ["RestoreMemberStatus", "RestoreBatch", "status.members[]"],
  ["SessionTargetRef", "BackupSession", "status.targets[].ref"],
  ["BackupTargetStatus", "BackupSession", "status.targets[]"],
  ["HostBackupProgress", "BackupSession", "status.targets[].progress[]"],
  ["HostBackupStats", "BackupSession", "status.targets[].stats[]"],
  ["SnapshotStats", "BackupSession", "status.targets[].stats[].snapshots[]"],
  ["HostRestoreStats", "RestoreSession", "status.stats[]"],
  ["Backend", "Repository", "spec.backend"],
  ["UsagePolicy", "Repository", "spec.usagePolicy"],
  ["RepositoryReference", "Repository", "status.references[]"],
  ["PolicySourceCondition", "PolicySource", "status.conditions[]"],
  ["InventoryEntry", "PolicySource", "status.inventory.entries[]"],
  ["SyncSummary", "PolicySource", "status.lastSyncSummary"],
  ["PolicyBackend", "BackupPolicy", "spec.backend"],
  ["PolicyRetention", "BackupPolicy", "spec.retention"],
];

/**
 * Blobs the CRDs keep open (`x-kubernetes-preserve-unknown-fields`) whose shape is Kubernetes' own:
 * typed from client-node, still open to the fields Stash adds. Keyed by the property path's end.
 */
export const OPEN_SHAPES: Array<[pathEnd: string, name: string, type: string]> = [
  [
    "runtimeSettings.pod",
    "PodRuntimeSettings",
    'Partial<Pick<V1PodSpec, "serviceAccountName" | "automountServiceAccountToken" | "nodeSelector" | "nodeName" | "affinity" | "schedulerName" | "tolerations" | "priorityClassName" | "priority" | "securityContext" | "readinessGates" | "runtimeClassName" | "enableServiceLinks" | "topologySpreadConstraints" | "imagePullSecrets">> & {\n  podLabels?: Record<string, string>;\n  podAnnotations?: Record<string, string>;\n  [key: string]: unknown;\n}',
  ],
  [
    "runtimeSettings.container",
    "ContainerRuntimeSettings",
    'Partial<Pick<V1Container, "resources" | "livenessProbe" | "readinessProbe" | "lifecycle" | "securityContext" | "env" | "envFrom">> & {\n  nice?: { adjustment?: number };\n  ionice?: { class?: number; classData?: number };\n  [key: string]: unknown;\n}',
  ],
  // A Namespace label selector, as metav1.LabelSelector.
  ["allowedNamespaces.selector", "NamespaceSelector", "V1LabelSelector"],
  // A BackupPolicy's usagePolicy is copied into its Repository as is.
  ["repository.usagePolicy", "PolicyUsagePolicy", "UsagePolicy"],
  ["interimVolumeTemplate", "InterimVolumeTemplate", "{\n  metadata?: V1ObjectMeta;\n  spec?: V1PersistentVolumeClaimSpec;\n  [key: string]: unknown;\n}"],
];

/** Names for schema nodes: equal nodes (by their JSON) share the name. */
type Names = { byJson: Map<string, string>; open: Map<string, string> };

export const TYPES_FILE = join(import.meta.dirname, "types.generated.ts");

const IDENT = /^[A-Za-z_$][\w$]*$/;
const key = (k: string) => (IDENT.test(k) ? k : JSON.stringify(k));
const doc = (text: unknown, pad: string) =>
  typeof text === "string" && text ? `${pad}/** ${text.replace(/\*\//g, "*\\/").replace(/\s*\n\s*/g, " ")} */\n` : "";
const upperFirst = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);

/** The TypeScript type of one schema node, indented for its depth. Pure. */
export function typeOf(s: Schema | undefined, depth = 0, names?: Names, path = "", top = false): string {
  if (!s) return "unknown";
  if (names) {
    const named = top ? undefined : names.byJson.get(JSON.stringify(s));
    const open = [...names.open].find(([end]) => path === end || path.endsWith(`.${end}`));
    const n = named ?? open?.[1];
    if (n) return s.nullable ? `${n} | null` : n;
  }
  const pad = "  ".repeat(depth + 1);
  const end = "  ".repeat(depth);
  let t: string;
  if (s["x-kubernetes-int-or-string"]) t = "number | string";
  else if (Array.isArray(s.enum)) t = s.enum.map((v: unknown) => JSON.stringify(v)).join(" | ");
  else if (s.type === "string") t = "string";
  else if (s.type === "integer" || s.type === "number") t = "number";
  else if (s.type === "boolean") t = "boolean";
  else if (s.type === "array") {
    // A structural schema has one items schema (never a tuple).
    const item = typeOf(s.items as Schema | undefined, depth, names, `${path}[]`);
    t = /^[\w.]+$/.test(item) ? `${item}[]` : `Array<${item}>`;
  } else if (s.type === "object" || s.properties) {
    const props = Object.entries(s.properties ?? {});
    const required = new Set<string>(s.required ?? []);
    const lines = props.map(
      ([k, v]) => `${doc(v.description, pad)}${pad}${key(k)}${required.has(k) ? "" : "?"}: ${typeOf(v, depth + 1, names, path ? `${path}.${k}` : k)};\n`,
    );
    if (typeof s.additionalProperties === "object") lines.push(`${pad}[key: string]: ${typeOf(s.additionalProperties, depth + 1, names, `${path}.*`)};\n`);
    else if (s["x-kubernetes-preserve-unknown-fields"] || !props.length) lines.push(`${pad}[key: string]: unknown;\n`);
    t = `{\n${lines.join("")}${end}}`;
  } else if (s.anyOf) t = s.anyOf.map((b) => typeOf(b, depth, names, path)).join(" | ");
  else t = "unknown";
  return s.nullable ? `${t} | null` : t;
}

/** The schema node at `path` (dots, `[]` for items) in the served version of `kind`. */
function nodeAt(files: CrdFile[], kind: string, path: string): Schema {
  const crd = files.find((f) => f.crd.spec.names.kind === kind)?.crd;
  const version = crd?.spec.versions.find((v) => v.served);
  let node: Schema | undefined = version?.schema?.openAPIV3Schema;
  for (const part of path.split(".")) {
    const items = part.endsWith("[]");
    node = node?.properties?.[items ? part.slice(0, -2) : part];
    if (items) node = node?.items as Schema | undefined;
  }
  if (!node) throw new Error(`generate-types NAMED: ${kind} has no schema at ${path}`);
  return node;
}

function namesFor(files: CrdFile[]): Names {
  const byJson = new Map<string, string>();
  for (const [name, kind, path] of NAMED) {
    const json = JSON.stringify(nodeAt(files, kind, path));
    const taken = byJson.get(json);
    if (taken) throw new Error(`generate-types NAMED: ${name} (${kind} ${path}) is the same shape as ${taken}`);
    byJson.set(json, name);
  }
  return { byJson, open: new Map(OPEN_SHAPES.map(([end, name]) => [end, name])) };
}

/** The whole generated module for a set of CRD files. Pure and deterministic. */
export function generateTypes(files: CrdFile[]): string {
  const out: string[] = [
    "// Generated by `npm run schema:types` from schema/crds/*.yaml. Do not edit: change the CRD and regenerate.\n",
    'import type { V1Container, V1LabelSelector, V1ObjectMeta, V1PersistentVolumeClaimSpec, V1PodSpec } from "@kubernetes/client-node";\n',
  ];
  const names = namesFor(files);
  out.push("\n// Shapes the kinds share (generate-types.ts NAMED and OPEN_SHAPES)\n");
  for (const [name, kind, path] of NAMED) {
    const node = nodeAt(files, kind, path);
    out.push(`${doc(node.description, "")}export type ${name} = ${typeOf(node, 0, names, path, true)};\n`);
  }
  for (const [, name, type] of OPEN_SHAPES) out.push(`export type ${name} = ${type};\n`);
  const kinds: string[] = [];
  for (const { file, crd } of files) {
    const versions = crd.spec.versions.filter((v) => v.served);
    for (const v of versions) {
      const kind: string = crd.spec.names.kind;
      const name = versions.length > 1 ? `${kind}${upperFirst(v.name)}` : kind;
      const root = v.schema?.openAPIV3Schema;
      if (!root) throw new Error(`${file}: version ${v.name} has no schema.openAPIV3Schema`);
      const props: Record<string, Schema> = root.properties ?? {};
      const required = new Set<string>(root.required ?? []);
      const apiVersion = `${crd.spec.group}/${v.name}`;
      out.push(`\n// ${kind} (${apiVersion}), from ${file.split("/").slice(-2).join("/")}\n`);
      const parts: string[] = [];
      for (const part of ["spec", "status"]) {
        if (!props[part]) continue;
        out.push(`${doc(props[part].description, "")}export type ${name}${upperFirst(part)} = ${typeOf(props[part], 0, names, part)};\n`);
        parts.push(`  ${part}${required.has(part) ? "" : "?"}: ${name}${upperFirst(part)};\n`);
      }
      for (const [k, s] of Object.entries(props)) {
        if (["apiVersion", "kind", "metadata", "spec", "status"].includes(k)) continue;
        parts.push(`${doc(s.description, "  ")}  ${key(k)}${required.has(k) ? "" : "?"}: ${typeOf(s, 1, names, k)};\n`);
      }
      out.push(
        `${doc(root.description, "")}export type ${name} = {\n  apiVersion: ${JSON.stringify(apiVersion)};\n  kind: ${JSON.stringify(kind)};\n  metadata: V1ObjectMeta;\n${parts.join("")}};\n`,
      );
      kinds.push(name);
    }
  }
  out.push(`\n/** Every kind served by the CRDs in schema/crds. */\nexport type ApiObject =\n${kinds.map((n) => `  | ${n}`).join("\n")};\n`);
  return out.join("");
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  writeFileSync(TYPES_FILE, generateTypes(crdFiles()));
  console.log(`wrote ${TYPES_FILE}`);
}
