import { test } from "node:test";
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { testNamespace } from "../testing/cluster.ts";
import { createCA } from "../lib/pki.ts";
import { sharedCA } from "./shared-ca.ts";
import { createServingCerts } from "./serving-certs.ts";

test("replicas starting at once share one serving CA: one Secret, every replica's certificate verifies against the one caBundle", async () => {
  const { kube, namespace } = await testNamespace("shared-ca");
  const o = { namespace, name: "restash-operator-ca" };
  const cas = await Promise.all([sharedCA(kube, o), sharedCA(kube, o), sharedCA(kube, o)]);
  assert.equal(new Set(cas.map((c) => c.certPem)).size, 1, "three replicas, one CA");
  const secret = await kube.get<any>("v1", "Secret", o.name, namespace);
  assert.equal(secret.type, "kubernetes.io/tls");
  assert.equal(Buffer.from(secret.data["tls.crt"], "base64").toString(), cas[0].certPem);

  // A restarted replica loads the same CA; the serving certificates of two replicas both chain to it.
  const again = await sharedCA(kube, o);
  assert.equal(again.certPem, cas[0].certPem);
  const [a, b] = await Promise.all([createServingCerts({ dnsNames: ["restash-operator.restash.svc"], ca: cas[0] }), createServingCerts({ ca: again })]);
  assert.equal(a.caBundle, b.caBundle);
  const ca = new X509Certificate(cas[0].certPem);
  for (const certs of [a, b]) assert.ok(new X509Certificate(certs.current().certPem).verify(ca.publicKey), "serving certificate signed by the shared CA");
});

test("a CA near its end is replaced once, by one replica; a Secret that holds no CA is an error naming it", async () => {
  const { kube, namespace } = await testNamespace("shared-ca-renew");
  const o = { namespace, name: "restash-operator-ca" };
  const old = await createCA("restash-operator-ca", 10);
  await kube.create({
    apiVersion: "v1",
    kind: "Secret",
    type: "kubernetes.io/tls",
    metadata: { name: o.name, namespace },
    data: { "tls.crt": Buffer.from(old.certPem).toString("base64"), "tls.key": Buffer.from(old.keyPem).toString("base64") },
  });
  const renewed = await Promise.all([sharedCA(kube, { ...o, renewWithinDays: 30 }), sharedCA(kube, { ...o, renewWithinDays: 30 })]);
  assert.notEqual(renewed[0].certPem, old.certPem);
  assert.equal(renewed[0].certPem, renewed[1].certPem, "both replicas end with the one renewed CA");
  assert.ok(new X509Certificate(renewed[0].certPem).validToDate.getTime() > Date.now() + 3000 * 86_400_000);

  const other = await createCA("someone-else", 365);
  await kube.create({
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name: "mixed", namespace },
    data: { "tls.crt": Buffer.from(old.certPem).toString("base64"), "tls.key": Buffer.from(other.keyPem).toString("base64") },
  });
  await assert.rejects(sharedCA(kube, { namespace, name: "mixed" }), (e: Error) => {
    assert.match(e.message, new RegExp(`^Secret ${namespace}/mixed: tls.crt/tls.key are not a CA certificate and its key: the CA key does not belong`));
    assert.ok(!e.message.includes("PRIVATE KEY"), "the key is never in the message");
    return true;
  });
  await kube.create({ apiVersion: "v1", kind: "Secret", metadata: { name: "empty", namespace }, data: { other: "eA==" } });
  await assert.rejects(sharedCA(kube, { namespace, name: "empty" }), new RegExp(`^Error: Secret ${namespace}/empty: data has no tls.crt and tls.key`));
});
