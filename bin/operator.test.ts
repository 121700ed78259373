import { test } from "node:test";
import assert from "node:assert/strict";
import { podsPushgateway } from "./operator.ts";

test("the pushgateway URL pods get names a ClusterIP from the operator pod's service variables, so pods need no cluster DNS", () => {
  const env = { RESTASH_OPERATOR_SERVICE_HOST: "10.96.0.10", RESTASH_PUSHGATEWAY_SERVICE_HOST: "10.96.0.11" };
  const pg = (url: string, e: NodeJS.ProcessEnv = env) => podsPushgateway(url, "restash-operator", "restash", e);
  // Stash's layout: the pushgateway beside the operator, reached through the operator's Service.
  assert.equal(pg("http://localhost:56789"), "http://10.96.0.10:56789");
  // restash's layout: its own Service in the operator's namespace, however it is spelt.
  assert.equal(pg("http://restash-pushgateway.restash.svc:56789"), "http://10.96.0.11:56789");
  assert.equal(pg("http://restash-pushgateway.restash.svc.cluster.local:56789"), "http://10.96.0.11:56789");
  assert.equal(pg("http://restash-pushgateway:56789"), "http://10.96.0.11:56789");
  // Another namespace's Service, an unknown Service or a host outside the cluster stay as given.
  assert.equal(pg("http://restash-pushgateway.monitoring.svc:9091"), "http://restash-pushgateway.monitoring.svc:9091");
  assert.equal(pg("http://other.restash.svc:9091"), "http://other.restash.svc:9091");
  assert.equal(pg("https://push.example.com"), "https://push.example.com");
  // Without the variables (a Service made after this pod), the DNS name.
  assert.equal(pg("http://localhost:56789", {}), "http://restash-operator.restash.svc:56789");
  assert.equal(pg("http://restash-pushgateway.restash.svc:56789", {}), "http://restash-pushgateway.restash.svc:56789");
});
