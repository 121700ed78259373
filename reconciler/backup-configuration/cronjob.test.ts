import { test } from "node:test";
import assert from "node:assert/strict";
import { desiredCronJob, desiredCronJobRBAC } from "./cronjob.ts";
import { cronJobName, backupSessionName, backupJobName } from "../../stash/names.ts";

const bc = {
  apiVersion: "stash.appscode.com/v1beta1",
  kind: "BackupConfiguration",
  metadata: { name: "deployment-backup", namespace: "demo", uid: "uid-1", labels: { team: "a" } },
  spec: { schedule: "*/5 * * * *", paused: false, repository: { name: "r" }, retentionPolicy: { name: "k", keepLast: 5, prune: true } },
};

test("a BackupConfiguration gets the stash-trigger CronJob Stash users know", () => {
  const labels = { "app.kubernetes.io/component": "stash-backup", "app.kubernetes.io/managed-by": "stash.appscode.com", team: "a" };
  assert.deepEqual(desiredCronJob(bc, { image: "restash:1" }), {
    apiVersion: "batch/v1",
    kind: "CronJob",
    metadata: {
      name: "stash-trigger-deployment-backup",
      namespace: "demo",
      labels,
      ownerReferences: [
        {
          apiVersion: "stash.appscode.com/v1beta1",
          kind: "BackupConfiguration",
          name: "deployment-backup",
          uid: "uid-1",
          controller: true,
          blockOwnerDeletion: true,
        },
      ],
    },
    spec: {
      schedule: "*/5 * * * *",
      suspend: false,
      jobTemplate: {
        metadata: { labels: { ...labels, "stash.appscode.com/delete-job-on-completion": "true" } },
        spec: {
          template: {
            metadata: { labels },
            spec: {
              serviceAccountName: "stash-trigger-deployment-backup",
              containers: [
                {
                  name: "stash-trigger",
                  image: "restash:1",
                  imagePullPolicy: "IfNotPresent",
                  args: ["create-backupsession", "--invoker-name=deployment-backup", "--invoker-kind=BackupConfiguration"],
                },
              ],
              restartPolicy: "Never",
            },
          },
        },
      },
    },
  });
});

test("a paused BackupConfiguration gets a suspended CronJob", () => {
  assert.equal(desiredCronJob({ ...bc, spec: { ...bc.spec, paused: true } }, { image: "i" }).spec.suspend, true);
});

test("runtime settings reach the trigger pod, and a user service account replaces the generated one", () => {
  const cj = desiredCronJob(
    {
      ...bc,
      spec: {
        ...bc.spec,
        runtimeSettings: {
          pod: { serviceAccountName: "mine", nodeSelector: { a: "b" } },
          container: { resources: { limits: { cpu: "1" } }, livenessProbe: {} },
        },
      },
    },
    { image: "i" },
  );
  const pod = cj.spec.jobTemplate.spec.template.spec;
  assert.equal(pod.serviceAccountName, "mine");
  assert.deepEqual(pod.nodeSelector, { a: "b" });
  assert.deepEqual(pod.containers[0].resources, { limits: { cpu: "1" } });
  assert.equal(pod.containers[0].livenessProbe, undefined, "only resources, env, envFrom and securityContext are copied");
  const rbac = desiredCronJobRBAC({ ...bc, spec: { ...bc.spec, runtimeSettings: { pod: { serviceAccountName: "mine" } } } });
  assert.deepEqual(
    rbac.map((o) => o.kind),
    ["RoleBinding"],
  );
  assert.deepEqual(rbac[0].subjects, [{ kind: "ServiceAccount", name: "mine", namespace: "demo" }]);
  assert.deepEqual(
    desiredCronJobRBAC(bc).map((o) => `${o.kind}/${o.metadata.name}`),
    ["ServiceAccount/stash-trigger-deployment-backup", "RoleBinding/stash-trigger-deployment-backup"],
  );
});

test("names follow Stash: CronJob keeps the rightmost 52 characters, sessions are <invoker>-<unix seconds>", () => {
  assert.equal(cronJobName("a.b"), "stash-trigger-a-b");
  const long = "x".repeat(30) + "-" + "y".repeat(30);
  assert.equal(cronJobName(long).length <= 52, true);
  assert.ok(cronJobName(long).endsWith("y".repeat(30)));
  assert.equal(backupSessionName("deployment-backup", 1700000000), "deployment-backup-1700000000");
  assert.equal(backupSessionName("z".repeat(70), 1700000000).length, 63);
  assert.equal(backupJobName("pvc-backup-1700000000", 0), "stash-backup-pvc-backup-1700000000-0");
  assert.ok(backupJobName("p".repeat(80), 0).length <= 63);
});
