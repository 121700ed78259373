// Validation of what a blueprint renders, against the same CRD schemas the API server enforces
// (schema/validate.ts). Used by the controller before it applies anything, and callable by the
// BackupBlueprint admission webhook (blueprintViolations renders for sample targets). Pure apart
// from the validator, which is compiled once.
import { validateObject } from "../../schema/validate.ts";
import type { AutoBackupRequest } from "./annotations.ts";
import { renderAutoBackup, type AutoBackupTarget, type BlueprintSource, type Rendered } from "./render.ts";

export interface Violation {
  field: string;
  message: string;
}

/** Schema errors of the rendered objects: "<Kind ns/name>: <field>: <message>" each. */
export function renderedObjectErrors(r: Rendered, blueprint: string): string[] {
  const out: string[] = [];
  for (const obj of [r.repository, r.backupConfiguration]) {
    for (const e of validateObject({ file: `BackupBlueprint ${blueprint}`, line: 1, docIndex: 0, object: obj }, "")) {
      out.push(`${e.object}: ${e.field ? `${e.field}: ` : ""}${e.message}`);
    }
  }
  return out;
}

const SAMPLES: AutoBackupTarget[] = [
  { apiVersion: "apps/v1", kind: "Deployment", name: "sample", namespace: "sample" },
  { apiVersion: "appcatalog.appscode.com/v1alpha1", kind: "AppBinding", name: "sample", namespace: "sample", appType: "kubedb.com/postgres", appVersion: "15" },
];

/**
 * Violations of a BackupBlueprint: fields whose rendering (for a sample workload and a sample
 * AppBinding) the Repository or BackupConfiguration schema rejects. Fields are the blueprint's.
 */
export function blueprintViolations(blueprint: BlueprintSource): Violation[] {
  const seen = new Set<string>();
  const out: Violation[] = [];
  const req: AutoBackupRequest = { blueprints: [blueprint.metadata.name ?? "sample"], params: [] };
  for (const t of SAMPLES) {
    const r = renderAutoBackup(blueprint, t, req);
    for (const [obj, kind] of [
      [r.repository, "Repository"],
      [r.backupConfiguration, "BackupConfiguration"],
    ] as const) {
      for (const e of validateObject({ file: "BackupBlueprint", line: 1, docIndex: 0, object: obj }, "")) {
        const field = e.field?.startsWith("spec.") ? e.field.replace(/^spec\.repository\b/, "spec") : (e.field ?? "spec");
        const key = `${field}|${e.message}`;
        if (seen.has(key)) continue;
        seen.add(key);
        out.push({ field: field.startsWith("metadata") ? "metadata.name" : field, message: `renders an invalid ${kind}: ${e.message}` });
      }
    }
  }
  return out;
}
