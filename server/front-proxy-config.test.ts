import { test } from "node:test";
import assert from "node:assert/strict";
import { frontProxyFromConfigMap } from "./front-proxy-config.ts";
import { snapshotApiService, externalNameService } from "./api-service.ts";

test("the front-proxy settings are read from the API server's published ConfigMap", () => {
  assert.deepEqual(
    frontProxyFromConfigMap({
      "requestheader-client-ca-file": "PEM",
      "requestheader-allowed-names": '["front-proxy-client"]',
      "requestheader-username-headers": '["X-Remote-User"]',
      "requestheader-group-headers": '["X-Remote-Group"]',
      "requestheader-extra-headers-prefix": '["X-Remote-Extra-"]',
    }),
    {
      caPem: "PEM",
      allowedNames: ["front-proxy-client"],
      usernameHeaders: ["X-Remote-User"],
      groupHeaders: ["X-Remote-Group"],
      extraHeaderPrefixes: ["X-Remote-Extra-"],
    },
  );
  assert.equal(frontProxyFromConfigMap({}), undefined);
  assert.deepEqual(frontProxyFromConfigMap({ "requestheader-client-ca-file": "PEM" })?.usernameHeaders, ["X-Remote-User"]);
});

test("the APIService names the Service, the port and the CA bundle", () => {
  assert.deepEqual(snapshotApiService({ serviceNamespace: "kube-system", serviceName: "restash", port: 8443, caBundle: "Q0E=" }).spec, {
    group: "repositories.stash.appscode.com",
    version: "v1alpha1",
    service: { namespace: "kube-system", name: "restash", port: 8443 },
    caBundle: "Q0E=",
    groupPriorityMinimum: 1000,
    versionPriority: 15,
  });
  assert.deepEqual(externalNameService("kube-system", "restash").spec, { type: "ExternalName", externalName: "localhost" });
});
