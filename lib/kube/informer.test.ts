// Informers: one shared list-watch per collection, slim cached objects, metadata-only watchers and
// the cache-backed reads of the invoker reconcilers.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { testNamespace, stopControlPlane } from "../../testing/cluster.ts";
import { silentLogger } from "../logger.ts";
import { realClock } from "../workqueue.ts";
import { cachedGets, collectionPath, startInformer, startWatcher, type EventType } from "./informer.ts";
import { eventually } from "../../testing/stash-objects.ts";

after(() => stopControlPlane());

const log = silentLogger();
const cm = (namespace: string, name: string, extra: Record<string, unknown> = {}) => ({
  apiVersion: "v1",
  kind: "ConfigMap",
  metadata: { name, namespace, ...extra },
  data: { k: name },
});

test("one list-watch per collection: callers share the cache, a late caller gets the cached objects as adds, the last stop ends it", async () => {
  const { kube, namespace } = await testNamespace("informer-shared");
  await kube.apply(cm(namespace, "first", { annotations: { "kubectl.kubernetes.io/last-applied-configuration": '{"big":true}', keep: "me" } }));
  const path = collectionPath("", "v1", "configmaps", namespace);
  const seenA: [EventType, string | undefined][] = [];
  const a = startInformer(kube, { path, onEvent: (o, t) => seenA.push([t, o.metadata.name]) }, log, realClock);
  await a.synced;
  const seenB: [EventType, string | undefined][] = [];
  const b = startInformer(kube, { path, onEvent: (o, t) => seenB.push([t, o.metadata.name]) }, log, realClock);
  assert.equal(a.cache, b.cache, "the same cache");
  await b.synced;
  await eventually("late adds", async () => seenB.length === 1);
  assert.deepEqual(seenB, [["add", "first"]]);

  const first = a.cache.get("first", namespace)!;
  assert.equal(first.metadata.managedFields, undefined, "managedFields are dropped");
  assert.deepEqual(first.metadata.annotations, { keep: "me" }, "kubectl's last-applied annotation is dropped, others kept");

  await a.stop();
  await kube.apply(cm(namespace, "second"));
  await eventually("b sees the add after a stopped", async () => seenB.some(([t, n]) => t === "add" && n === "second"));
  assert.ok(!seenA.some(([, n]) => n === "second"), "a stopped caller gets no events");
  assert.ok(b.cache.get("second", namespace));
  await kube.delete(cm(namespace, "first"));
  await eventually("delete", async () => seenB.some(([t, n]) => t === "delete" && n === "first"));
  assert.deepEqual(
    b.cache.list(namespace).map((o: any) => o.metadata.name),
    ["second"],
  );
  await b.stop();

  // A new caller after everyone stopped starts a fresh list-watch.
  const seenC: (string | undefined)[] = [];
  const c = startInformer(kube, { path, onEvent: (o) => seenC.push(o.metadata.name) }, log, realClock);
  await c.synced;
  assert.notEqual(c.cache, b.cache);
  assert.deepEqual(seenC, ["second"]);
  await c.stop();
});

test("a metadata-only watcher gets names, labels and owners, never data", async () => {
  const { kube, namespace } = await testNamespace("watcher-meta");
  await kube.apply({
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name: "listed", namespace, labels: { a: "1" } },
    stringData: { password: "listed-secret-value" },
  });
  const seen: [EventType, any][] = [];
  const w = startWatcher(
    kube,
    { path: collectionPath("", "v1", "secrets", namespace), metadataOnly: true, onEvent: (o, t) => seen.push([t, o]) },
    log,
    realClock,
  );
  await w.synced;
  await kube.apply({ apiVersion: "v1", kind: "Secret", metadata: { name: "watched", namespace }, stringData: { password: "watched-secret-value" } });
  await eventually("watched add", async () => seen.some(([t, o]) => t === "add" && o.metadata.name === "watched"));
  await w.stop();
  assert.deepEqual(
    seen.map(([t, o]) => [t, o.metadata.name]),
    [
      ["add", "listed"],
      ["add", "watched"],
    ],
  );
  assert.deepEqual(seen[0][1].metadata.labels, { a: "1" });
  for (const [, o] of seen) assert.equal(o.data, undefined);
  assert.doesNotMatch(JSON.stringify(seen), /secret-value|cGFzc3dvcmQ/);
});

test("cached reads: a cached object comes from the informer, a miss or an object being deleted is read from the API server", async () => {
  const { kube, namespace } = await testNamespace("cached-gets");
  await kube.apply(cm(namespace, "cached"));
  const inf = startInformer(kube, { path: collectionPath("", "v1", "configmaps", namespace), onEvent: () => {} }, log, realClock);
  after(() => inf.stop());
  await inf.synced;
  const reads: string[] = [];
  const request = kube.request.bind(kube);
  kube.request = ((path: string, init?: any) => (reads.push(path), request(path, init))) as typeof kube.request;
  const cached = cachedGets(kube, [{ apiVersion: "v1", kind: "ConfigMap", informer: inf }]);
  assert.equal(await cached.getOrNull("v1", "ConfigMap", "cached", namespace), inf.cache.get("cached", namespace));
  assert.deepEqual(reads, [], "no API call for a cached object");
  assert.equal(await cached.getOrNull("v1", "ConfigMap", "absent", namespace), null);
  assert.equal(reads.length, 1, "a miss is confirmed by a direct read");
  await kube.apply(cm(namespace, "fresh"));
  assert.equal((await cached.get<any>("v1", "ConfigMap", "fresh", namespace)).data.k, "fresh", "an object not cached yet is read directly");
  await kube.apply(cm(namespace, "going", { finalizers: ["example.com/hold"] }));
  await kube.delete(cm(namespace, "going"));
  await eventually("deleting, cached", async () => !!inf.cache.get("going", namespace)?.metadata.deletionTimestamp);
  const before = reads.length;
  assert.ok((await cached.getOrNull<any>("v1", "ConfigMap", "going", namespace))?.metadata.deletionTimestamp);
  assert.equal(reads.length, before + 1, "an object being deleted is read directly");
  await kube.mergePatch(cm(namespace, "going"), { metadata: { finalizers: null } });
  await kube.apply({ apiVersion: "v1", kind: "Secret", metadata: { name: "s", namespace }, stringData: { a: "b" } });
  assert.ok(await cached.getOrNull("v1", "Secret", "s", namespace), "other kinds are read directly");
});
