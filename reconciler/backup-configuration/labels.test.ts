import { test } from "node:test";
import assert from "node:assert/strict";
import { offshootLabels } from "../../stash/names.ts";
import { desiredCronJob } from "./cronjob.ts";
import { newBackupSession } from "../../stash/new-backup-session.ts";

const gitopsLabels = {
  team: "web",
  "app.kubernetes.io/instance": "backup-policies", // Argo CD's tracking label
  "argocd.argoproj.io/instance": "backup-policies",
  "kustomize.toolkit.fluxcd.io/name": "policies",
  "kustomize.toolkit.fluxcd.io/namespace": "flux-system",
  "restash.dev/source": "demo.backup-policies",
};

test("objects restash creates keep the invoker's labels but never a GitOps tool's tracking labels", () => {
  assert.deepEqual(offshootLabels(gitopsLabels, "stash-backup"), {
    "app.kubernetes.io/component": "stash-backup",
    "app.kubernetes.io/managed-by": "stash.appscode.com",
    team: "web",
  });
});

test("a BackupConfiguration synced by Argo CD gives a CronJob and BackupSessions that Argo CD does not claim", () => {
  const bc = {
    apiVersion: "stash.appscode.com/v1beta1",
    kind: "BackupConfiguration",
    metadata: { name: "web", namespace: "web", uid: "u-1", labels: gitopsLabels },
    spec: { schedule: "0 2 * * *", repository: { name: "r" }, retentionPolicy: { name: "k", keepLast: 1, prune: true } },
  };
  const cron = desiredCronJob(bc as any, { image: "restash:test" } as any) as any;
  const session = newBackupSession(bc as any, 1795493387) as any;
  for (const labels of [
    cron.metadata.labels,
    cron.spec.jobTemplate.metadata?.labels ?? {},
    cron.spec.jobTemplate.spec.template.metadata.labels,
    session.metadata.labels,
  ]) {
    for (const k of Object.keys(gitopsLabels)) if (k !== "team") assert.equal(labels[k], undefined, `${k} copied`);
  }
  assert.equal(session.metadata.labels.team, "web");
  assert.equal(cron.metadata.ownerReferences[0].uid, "u-1", "owned by the configuration instead");
});
