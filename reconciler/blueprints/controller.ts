// The auto-backup controller (stash-behaviour.md 2.9). Root object: the annotated target (a
// workload, a PVC or an AppBinding), key `<Kind>/<namespace>/<name>`. Informers only enqueue
// keys: a target event, a BackupBlueprint event (every target naming it) and an event of a
// generated BackupConfiguration (its target, from its labels). reconcile(key) re-reads the
// target and its blueprints and enforces the whole desired state: the Repository and
// BackupConfiguration of each named blueprint applied (server-side apply), the generated
// BackupConfigurations of blueprints no longer named removed. Repositories are never deleted:
// the backed-up data outlives the annotation.
import { errorKind, errorMessage, stalled, waiting, type ObjectRef } from "../../lib/errors.ts";
import type { AnyObject, Kube, KubeObject } from "../../lib/kube/client.ts";
import type { AppBinding, BackupBlueprint } from "../../schema/types.generated.ts";
import { silentLogger, type Logger } from "../../lib/logger.ts";
import { WorkQueue, realClock, type Clock, type Result } from "../../lib/workqueue.ts";
import { collectionPath, startInformer, type RunningInformer } from "../../lib/kube/informer.ts";
import { LABEL_TARGET_KIND, LABEL_TARGET_NAME, LABEL_TARGET_NAMESPACE, V1BETA1 } from "../../stash/names.ts";
import { KEY_BACKUP_BLUEPRINT, autoBackupRequest } from "./annotations.ts";
import { renderedObjectErrors } from "./checks.ts";
import { LABEL_BLUEPRINT, renderAutoBackup, type AutoBackupTarget } from "./render.ts";

interface TargetKind {
  kind: string;
  group: string;
  version: string;
  plural: string;
}

export const TARGET_KINDS: readonly TargetKind[] = [
  { kind: "Deployment", group: "apps", version: "v1", plural: "deployments" },
  { kind: "StatefulSet", group: "apps", version: "v1", plural: "statefulsets" },
  { kind: "DaemonSet", group: "apps", version: "v1", plural: "daemonsets" },
  { kind: "PersistentVolumeClaim", group: "", version: "v1", plural: "persistentvolumeclaims" },
  { kind: "AppBinding", group: "appcatalog.appscode.com", version: "v1alpha1", plural: "appbindings" },
];

const apiVersionOf = (k: TargetKind) => (k.group ? `${k.group}/${k.version}` : k.version);

/** Retry after a missing blueprint appears (its own event also requeues). */
const BLUEPRINT_MISSING_RETRY_MS = 30_000;

export interface BlueprintControllerOptions {
  kube: Kube;
  log?: Logger;
  clock?: Clock;
  /** Watch targets in this namespace only (default: all). */
  namespace?: string;
  concurrency?: number;
}

export interface BlueprintController {
  queue: WorkQueue;
  /** Resolves once every informer has listed. */
  synced: Promise<void>;
  /** Resolves when nothing is queued or running (delayed retries excluded). */
  idle(): Promise<void>;
  stop(): Promise<void>;
}

export const targetKey = (kind: string, namespace: string, name: string) => `${kind}/${namespace}/${name}`;

function splitTargetKey(key: string): { kind: string; namespace: string; name: string } {
  const [kind, namespace, ...rest] = key.split("/");
  return { kind, namespace, name: rest.join("/") };
}

function targetOf(obj: KubeObject, k: TargetKind): AutoBackupTarget {
  const t: AutoBackupTarget = {
    apiVersion: apiVersionOf(k),
    kind: k.kind,
    name: obj.metadata.name!,
    namespace: obj.metadata.namespace!,
    uid: obj.metadata.uid,
  };
  if (k.kind === "AppBinding") {
    const spec = (obj as AppBinding).spec;
    if (spec?.type) t.appType = spec.type;
    if (spec?.version) t.appVersion = String(spec.version);
  }
  return t;
}

/** What a metadata-only watch delivers: a PartialObjectMetadata (metadata, no spec or status). */
type PartialObjectMetadata = AnyObject;

const namesBlueprint = (obj: PartialObjectMetadata, blueprint: string) =>
  String(obj?.metadata?.annotations?.[KEY_BACKUP_BLUEPRINT] ?? "")
    .split(",")
    .map((s) => s.trim())
    .includes(blueprint);

export function startBlueprintController(o: BlueprintControllerOptions): BlueprintController {
  const { kube } = o;
  const log = (o.log ?? silentLogger()).child({ controller: "auto-backup" });
  const clock = o.clock ?? realClock;
  // The last warning sent per target, so a stuck target does not emit an Event per retry.
  const lastWarning = new Map<string, string>();

  async function warn(obj: KubeObject | null, k: TargetKind, key: string, message: string): Promise<void> {
    if (!obj || lastWarning.get(key) === message) return;
    lastWarning.set(key, message);
    const now = new Date(clock.now()).toISOString();
    await kube
      .create({
        apiVersion: "v1",
        kind: "Event",
        metadata: { generateName: `${obj.metadata.name}.`, namespace: obj.metadata.namespace },
        involvedObject: { apiVersion: apiVersionOf(k), kind: k.kind, name: obj.metadata.name, namespace: obj.metadata.namespace, uid: obj.metadata.uid },
        reason: "AutoBackupFailed",
        message,
        type: "Warning",
        source: { component: "restash-auto-backup" },
        firstTimestamp: now,
        lastTimestamp: now,
        count: 1,
      } as KubeObject)
      .catch((e) => log.warn("could not record an event", { key, err: e as Error }));
  }

  async function reconcile(key: string): Promise<Result> {
    const { kind, namespace, name } = splitTargetKey(key);
    const k = TARGET_KINDS.find((x) => x.kind === kind);
    if (!k) return {};
    const ref: ObjectRef = { kind, namespace, name };
    const obj = await kube.getOrNull<KubeObject>(apiVersionOf(k), kind, name, namespace);
    const live = obj && !obj.metadata.deletionTimestamp ? obj : null;
    if (!live) lastWarning.delete(key);
    let req;
    try {
      req = live ? autoBackupRequest(live.metadata.annotations, ref) : undefined;
    } catch (e) {
      // Without a readable request the desired state is unknown: keep what exists, report, do not retry.
      await warn(live, k, key, errorMessage(e));
      throw e;
    }
    const desired = new Set<string>();
    const keepBlueprints = new Set<string>();
    const problems: string[] = [];
    let missing = false;
    if (live && req) {
      const t = targetOf(live, k);
      for (const bpName of req.blueprints) {
        const bp = await kube.getOrNull<BackupBlueprint>(V1BETA1, "BackupBlueprint", bpName);
        if (!bp) {
          problems.push(`BackupBlueprint ${bpName} not found`);
          keepBlueprints.add(bpName);
          missing = true;
          continue;
        }
        const rendered = renderAutoBackup(bp, t, req);
        const errors = renderedObjectErrors(rendered, bpName);
        if (errors.length) {
          problems.push(`BackupBlueprint ${bpName} renders invalid objects: ${errors.join("; ")}`);
          keepBlueprints.add(bpName);
          continue;
        }
        await kube.apply(rendered.repository, { force: true });
        await kube.apply(rendered.backupConfiguration, { force: true });
        desired.add(`${rendered.backupConfiguration.metadata.namespace}/${rendered.backupConfiguration.metadata.name}`);
      }
    }
    // Generated configurations of this target that no named blueprint wants any more.
    const selector = `${LABEL_TARGET_KIND}=${kind},${LABEL_TARGET_NAME}=${name},${LABEL_TARGET_NAMESPACE}=${namespace},${LABEL_BLUEPRINT}`;
    const existing = await kube.request<{ items: KubeObject[] }>(collectionPath("stash.appscode.com", "v1beta1", "backupconfigurations"), {
      query: { labelSelector: selector },
    });
    for (const bc of existing.items) {
      if (desired.has(`${bc.metadata.namespace}/${bc.metadata.name}`) || keepBlueprints.has(bc.metadata.labels?.[LABEL_BLUEPRINT] ?? "")) continue;
      log.info("removing auto-backup configuration", { target: key, backupConfiguration: `${bc.metadata.namespace}/${bc.metadata.name}` });
      await kube.delete(bc);
    }
    if (problems.length) {
      const message = problems.join("; ");
      await warn(live, k, key, message);
      throw missing
        ? waiting("BlueprintNotFound", message, BLUEPRINT_MISSING_RETRY_MS, { object: ref })
        : stalled("InvalidBlueprint", message, { object: ref });
    }
    lastWarning.delete(key);
    return {};
  }

  const queue = new WorkQueue({
    clock,
    concurrency: o.concurrency ?? 2,
    handler: reconcile,
    shouldRetry: (e) => {
      const kind = errorKind(e);
      if (kind === "Stalled") return false;
      if (kind === "Waiting") return (e as { retryAfterMs?: number }).retryAfterMs ?? 5_000;
      return true;
    },
    onError: (key, e) => (errorKind(e) === "Transient" ? log.warn : log.info)("auto-backup reconcile did not finish", { key, err: e as Error }),
  });

  const informers: RunningInformer<PartialObjectMetadata>[] = [];
  // Every mapping below reads names, labels and annotations only (a reconcile reads the object
  // itself): metadata-only caches, so every workload of the cluster costs a few hundred bytes.
  const watch = (path: string, onEvent: (obj: PartialObjectMetadata) => void, labelSelector?: string) => {
    const inf = startInformer<PartialObjectMetadata>(kube, { path, labelSelector, metadataOnly: true, onEvent }, log, clock);
    informers.push(inf);
    return inf;
  };
  const generated = watch(
    collectionPath("stash.appscode.com", "v1beta1", "backupconfigurations"),
    (bc) => {
      const l = bc.metadata?.labels ?? {};
      if (l[LABEL_TARGET_KIND] && l[LABEL_TARGET_NAME] && l[LABEL_TARGET_NAMESPACE])
        queue.add(targetKey(l[LABEL_TARGET_KIND], l[LABEL_TARGET_NAMESPACE], l[LABEL_TARGET_NAME]));
    },
    LABEL_BLUEPRINT,
  );
  const hasGenerated = (kind: string, ns: string, name: string) =>
    generated.cache.list().some((bc) => {
      const l = bc.metadata?.labels ?? {};
      return l[LABEL_TARGET_KIND] === kind && l[LABEL_TARGET_NAMESPACE] === ns && l[LABEL_TARGET_NAME] === name;
    });
  const targets = TARGET_KINDS.map((k) => ({
    k,
    inf: watch(collectionPath(k.group, k.version, k.plural, o.namespace), (obj) => {
      const ns = obj.metadata?.namespace ?? "";
      const name = obj.metadata?.name ?? "";
      if (obj.metadata?.annotations?.[KEY_BACKUP_BLUEPRINT] !== undefined || hasGenerated(k.kind, ns, name)) queue.add(targetKey(k.kind, ns, name));
    }),
  }));
  watch(collectionPath("stash.appscode.com", "v1beta1", "backupblueprints"), (bp) => {
    const name = bp.metadata?.name ?? "";
    for (const { k, inf } of targets)
      for (const obj of inf.cache.list()) if (namesBlueprint(obj, name)) queue.add(targetKey(k.kind, obj.metadata?.namespace ?? "", obj.metadata?.name ?? ""));
  });

  return {
    queue,
    synced: Promise.all(informers.map((i) => i.synced)).then(() => undefined),
    idle: () => queue.idle(),
    async stop() {
      queue.stop();
      await Promise.all(informers.map((i) => i.stop()));
    },
  };
}
