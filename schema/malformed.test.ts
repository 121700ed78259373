// Malformed Stash objects (fixtures/malformed) are rejected offline with the file, line and field,
// and by the real API server (server-side apply dry-run) naming the same field.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { join, relative } from "node:path";
import { PatchStrategy } from "@kubernetes/client-node";
import { ApiError, type Kube, type KubeObject } from "../lib/kube/client.ts";
import { stopControlPlane, testNamespace } from "../testing/cluster.ts";
import { defaultValidator, formatError, parseYaml } from "./validate.ts";

after(() => stopControlPlane());

const DIR = join(import.meta.dirname, "..", "fixtures", "malformed");

interface Case {
  file: string;
  line: number;
  field: string;
  message: string;
  /** What the API server's apply error names instead of the field, where it differs. */
  applyNames?: string;
}

// One row per fixture: where the offline error must point, and what it must say.
const CASES: Case[] = [
  { file: "appbinding-port-not-integer.yaml", line: 12, field: "spec.clientConfig.service.port", message: 'must be an integer (got string "postgres")' },
  { file: "batch-unknown-execution-order.yaml", line: 11, field: "spec.executionOrder", message: 'must be one of Parallel, Sequential (got "Random")' },
  { file: "bb-missing-retention-policy.yaml", line: 6, field: "spec.retentionPolicy", message: "required field is missing" },
  { file: "bc-history-limit-fraction.yaml", line: 8, field: "spec.backupHistoryLimit", message: "must be an integer (got number 1.5)" },
  {
    file: "bc-hook-without-action.yaml",
    line: 15,
    field: "spec.hooks.preBackup",
    message: "must set exactly one of exec, httpGet, httpPost, tcpSocket (found none)",
  },
  { file: "bc-hook-port-list.yaml", line: 18, field: "spec.hooks.preBackup.httpGet.port", message: "must be an integer or a string (got a list)" },
  {
    file: "bc-invalid-name.yaml",
    line: 5,
    field: "metadata.name",
    message: "must be a lowercase RFC 1123 subdomain",
    // The client puts the name into the URL lower-cased, so apply fails on the mismatch first.
    applyNames: "the name of the object (Nightly_Backup)",
  },
  { file: "bc-keep-last-not-integer.yaml", line: 12, field: "spec.retentionPolicy.keepLast", message: 'must be an integer (got string "five")' },
  { file: "bc-missing-retention-policy.yaml", line: 7, field: "spec.retentionPolicy", message: "required field is missing" },
  { file: "bc-missing-spec.yaml", line: 2, field: "spec", message: "required field is missing" },
  { file: "bc-misspelled-field.yaml", line: 10, field: "spec.schedul", message: 'unknown field; did you mean "schedule"?' },
  { file: "bc-negative-max-retry.yaml", line: 15, field: "spec.retryConfig.maxRetry", message: "must be >= 0 (got -1)" },
  { file: "bc-paused-not-boolean.yaml", line: 8, field: "spec.paused", message: 'must be a boolean (true or false) (got string "true")' },
  { file: "bc-retention-missing-name.yaml", line: 10, field: "spec.retentionPolicy.name", message: "required field is missing" },
  { file: "bc-retention-missing-prune.yaml", line: 11, field: "spec.retentionPolicy.prune", message: "required field is missing" },
  { file: "bc-target-ref-missing-name.yaml", line: 11, field: "spec.target.ref.name", message: "required field is missing" },
  {
    file: "bc-timeout-in-days.yaml",
    line: 10,
    field: "spec.timeOut",
    message: 'must be a Go duration such as 30m, 2h or 1h30m (units ns, us, ms, s, m, h; there is no d) (got "1d")',
  },
  { file: "bc-unknown-driver.yaml", line: 8, field: "spec.driver", message: 'must be one of Restic, VolumeSnapshotter (got "Rsync")' },
  {
    file: "bc-unknown-execution-policy.yaml",
    line: 16,
    field: "spec.hooks.postBackup.executionPolicy",
    message: 'must be one of Always, OnSuccess, OnFailure, OnFinalRetryFailure (got "Sometimes")',
  },
  { file: "bc-volume-mount-missing-mount-path.yaml", line: 16, field: "spec.target.volumeMounts[0].mountPath", message: "required field is missing" },
  { file: "bs-unknown-invoker-kind.yaml", line: 10, field: "spec.invoker.kind", message: 'must be one of BackupConfiguration, BackupBatch (got "CronJob")' },
  { file: "function-missing-image.yaml", line: 6, field: "spec.image", message: "required field is missing" },
  { file: "repo-local-missing-mount-path.yaml", line: 9, field: "spec.backend.local.mountPath", message: "required field is missing" },
  { file: "repo-missing-backend.yaml", line: 7, field: "spec.backend", message: "required field is missing" },
  { file: "repo-no-provider.yaml", line: 8, field: "spec.backend", message: "must set exactly one of local, s3, gcs, azure, swift, b2, rest (found none)" },
  {
    file: "repo-two-providers.yaml",
    line: 8,
    field: "spec.backend",
    message: "must set exactly one of local, s3, gcs, azure, swift, b2, rest (found s3 and gcs)",
  },
  { file: "repo-s3-missing-bucket.yaml", line: 9, field: "spec.backend.s3.bucket", message: "required field is missing" },
  { file: "repo-s3-missing-endpoint.yaml", line: 9, field: "spec.backend.s3.endpoint", message: "required field is missing" },
  {
    file: "repo-unknown-usage-policy.yaml",
    line: 14,
    field: "spec.usagePolicy.allowedNamespaces.from",
    message: 'must be one of All, Selector, Same (got "Others")',
  },
  { file: "repo-wipe-out-string.yaml", line: 12, field: "spec.wipeOut", message: 'must be a boolean (true or false) (got string "yes")' },
  {
    file: "rs-final-retry-policy.yaml",
    line: 17,
    field: "spec.hooks.postRestore.executionPolicy",
    message: 'must be one of Always, OnSuccess, OnFailure (got "OnFinalRetryFailure")',
  },
  { file: "rs-rules-not-a-list.yaml", line: 15, field: "spec.target.rules", message: "must be a list (got a mapping)" },
  { file: "rs-temp-dir-size.yaml", line: 12, field: "spec.tempDir.sizeLimit", message: 'must be a quantity such as 512Mi or 2Gi (got "two gigabytes")' },
  { file: "task-step-missing-name.yaml", line: 9, field: "spec.steps[1].name", message: "required field is missing" },
];

function load(c: Case) {
  const path = relative(process.cwd(), join(DIR, c.file));
  const text = readFileSync(join(DIR, c.file), "utf8");
  const { objects, errors } = parseYaml(path, text);
  assert.deepEqual(errors, [], `${c.file} must parse`);
  assert.equal(objects.length, 1, `${c.file} holds one object`);
  return { path, text, loaded: objects[0] };
}

test("the malformed table covers every fixture, and at least 20 of them", () => {
  assert.deepEqual(
    CASES.map((c) => c.file).sort(),
    readdirSync(DIR)
      .filter((f) => f.endsWith(".yaml"))
      .sort(),
  );
  assert.ok(CASES.length >= 20);
});

test("each malformed fixture is rejected offline with exactly one error naming its file, line and field", () => {
  const validator = defaultValidator();
  for (const c of CASES) {
    const { path, text, loaded } = load(c);
    const errors = validator.validateObject(loaded, text);
    assert.equal(errors.length, 1, `${c.file}: expected one error, got:\n${errors.map(formatError).join("\n")}`);
    const [e] = errors;
    assert.equal(e.file, path, c.file);
    assert.equal(e.line, c.line, `${c.file}: ${formatError(e)}`);
    assert.equal(e.field, c.field, c.file);
    assert.ok(e.message.startsWith(c.message), `${c.file}: message ${JSON.stringify(e.message)} should start with ${JSON.stringify(c.message)}`);
    const o = loaded.object;
    assert.equal(e.object, `${o.kind} ${o.metadata.namespace ? `${o.metadata.namespace}/` : ""}${o.metadata.name}`);
    assert.ok(formatError(e).startsWith(`${path}:${c.line}:`), formatError(e));
  }
});

/** Dry-run server-side apply (how GitOps applies) or create, with strict field validation; the error, if any. */
async function dryRun(kube: Kube, obj: KubeObject, how: "apply" | "create"): Promise<ApiError | undefined> {
  const apply = how === "apply";
  const path = await kube.pathOf(obj, apply ? "patch" : "create");
  try {
    await kube.request(path, {
      method: apply ? "PATCH" : "POST",
      body: obj,
      contentType: apply ? PatchStrategy.ServerSideApply : "application/json",
      query: { fieldManager: "malformed-test", dryRun: "All", fieldValidation: "Strict", force: apply ? true : undefined },
    });
    return undefined;
  } catch (e) {
    if (e instanceof ApiError) return e;
    throw e;
  }
}

test("each malformed fixture is rejected by the API server (dry-run apply), naming the same field", async () => {
  const { kube, namespace } = await testNamespace("malformed");
  const validator = defaultValidator();
  for (const c of CASES) {
    const { loaded } = load(c);
    const obj = structuredClone(loaded.object);
    if (validator.servedKind(obj.apiVersion, obj.kind)?.scope === "Namespaced") obj.metadata.namespace = namespace;
    for (const how of ["apply", "create"] as const) {
      const err = await dryRun(kube, obj, how);
      assert.ok(err, `${c.file}: the API server accepted it (${how})`);
      // Server-side apply answers a wrong scalar type with 500 "failed to create typed patch
      // object" (the API server's behaviour, not ours); a create answers 422 Invalid.
      if (how === "create") assert.ok(err.code === 422 || err.code === 400, `${c.file}: create: expected 422 or 400, got ${err.code}: ${err.message}`);
      const message = String(err.body?.message ?? err.message);
      const names = how === "apply" && c.applyNames ? c.applyNames : c.field;
      assert.ok(message.includes(names), `${c.file}: ${how}: the API server's message does not name ${names}: ${message}`);
    }
  }
  // Control: the same namespace accepts a well-formed object, so the rejections above are the schema's.
  const ok = await dryRun(
    kube,
    {
      apiVersion: "stash.appscode.com/v1beta1",
      kind: "BackupConfiguration",
      metadata: { name: "nightly", namespace },
      spec: { repository: { name: "gcs-repo" }, retentionPolicy: { name: "keep-last-5", keepLast: 5, prune: true } },
    },
    "apply",
  );
  assert.equal(ok, undefined, ok?.message);
});
