// The operator's one HTTPS server: admission webhooks under /admission, the Snapshot aggregated
// API under /apis, health under /healthz. It owns its TLS identity (server/serving-certs.ts) and
// swaps the secure context when the certificate rotates, so rotation needs no restart.
import { createServer, type Server } from "node:https";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { AddressInfo } from "node:net";
import express from "express";
import type { Kube } from "../lib/kube/client.ts";
import type { V1APIService } from "@kubernetes/client-node";
import type { Repository } from "../schema/types.generated.ts";
import type { Logger } from "../lib/logger.ts";
import type { InjectOptions } from "../stash/pod-template.ts";
import type { LocalSpec } from "../restic/backend.ts";
import { admissionRouter } from "../admission/router.ts";
import { admissionRegistry } from "../admission/registry.ts";
import { cachedLookups } from "../admission/cached-lookups.ts";
import { silentLogger } from "../lib/logger.ts";
import { realClock } from "../lib/workqueue.ts";
import { startWatcher } from "../lib/kube/informer.ts";
import type { AdmissionLookups } from "../admission/types.ts";
import {
  ADMISSION_PREFIX,
  mutatingWebhookConfiguration,
  validatingWebhookConfiguration,
  type WebhookEndpoint,
  type WebhookScope,
} from "../admission/webhook-configurations.ts";
import { snapshotRouter } from "../snapshot-api/router.ts";
import { SnapshotIndex } from "../snapshot-api/snapshot-index.ts";
import { resticSource, type SnapshotSource } from "../snapshot-api/restic-source.ts";
import { sarAuthorizer } from "../snapshot-api/authorize.ts";
import type { FrontProxyConfig } from "../snapshot-api/front-proxy-auth.ts";
import { sharedCA } from "./shared-ca.ts";
import { createServingCerts, renewalDelayMs, type ServingCerts } from "./serving-certs.ts";
import { readFrontProxyConfig } from "./front-proxy-config.ts";
import { API_SERVICE_NAME, externalNameService, serviceDnsName, snapshotApiService } from "./api-service.ts";
import { baseEnv } from "../lib/child-env.ts";

export interface OperatorServerOptions {
  kube: Kube;
  /** 0 (default) picks a free port. */
  port?: number;
  /** Listen address; default 127.0.0.1 (in a pod: 0.0.0.0). */
  host?: string;
  /** The TLS identity; generated when absent, with SANs for `service`. */
  certs?: ServingCerts;
  /** The Secret holding the serving CA all replicas share (created by the first); without it each process makes its own CA. */
  caSecret?: { namespace: string; name: string };
  /** On stop, how long requests in flight may take to finish before their connections are cut (default 5 s). */
  drainMs?: number;
  /** The Service the API server reaches the operator through (adds its DNS name to the certificate). */
  service?: { namespace: string; name: string };
  /** Image and pushgateway for the injected sidecar and init-container. */
  inject: InjectOptions;
  /** Front-proxy settings; default: read from kube-system/extension-apiserver-authentication. */
  frontProxy?: FrontProxyConfig;
  /** Snapshot data source; default restic through restic-runner. */
  snapshotSource?: SnapshotSource;
  /** Scratch space for restic (cache, CA files); default a temporary directory removed on stop(). */
  scratchDir?: string;
  resticBin?: string;
  /** Where a local backend is visible to the operator process. */
  localPath?: (local: LocalSpec) => string;
  /** Snapshot index: reload period and retry pause after a failed listing. */
  index?: { maxAgeMs?: number; errorRetryMs?: number };
  /** Watch Secrets so a changed storage Secret reloads its Repositories' listings (default true). */
  watchSecrets?: boolean;
  /** Reads the webhooks make; default informer caches with direct reads on a miss (admission/cached-lookups.ts). */
  lookups?: AdmissionLookups;
  /** Let the process exit while the server is still open (tests share one server per process). */
  unref?: boolean;
  /** Renew the serving certificate this long before it expires (default 7 days). */
  renewBeforeMs?: number;
  log?: Logger;
}

export interface RegisterOptions {
  /** Register the admission webhooks (default true). */
  webhooks?: boolean;
  /** Name of the two webhook configurations (default "restash"). */
  webhookConfigName?: string;
  /** Where the API server calls the webhooks; default https://127.0.0.1:<port>. */
  webhookEndpoint?: WebhookEndpoint;
  webhookScope?: WebhookScope;
  /** Register the Snapshot APIService (default true). */
  apiService?: boolean;
  /**
   * The Service named by the APIService; default the server's `service` (or kube-system/restash-operator
   * as ExternalName `localhost`). externalName: true creates it as ExternalName `localhost`.
   */
  apiServiceService?: { namespace: string; name: string; port?: number; externalName?: boolean };
  /** Wait until the APIService reports Available (default true). */
  waitAvailableMs?: number;
}

export interface OperatorServer {
  port: number;
  /** base64 PEM of the CA that signs the serving certificate. */
  caBundle: string;
  certs: ServingCerts;
  index: SnapshotIndex;
  /** Lists the snapshots of every Repository (in `namespace`, or all) into the index; resolves with how many. */
  warmSnapshotIndex(namespace?: string): Promise<number>;
  /** The backup path calls this after a backup or forget so the Snapshot API shows it at once. */
  invalidate(repoNamespace: string, repoName: string): void;
  registerWithApiServer(opts?: RegisterOptions): Promise<void>;
  /** Removes what registerWithApiServer created. */
  unregister(): Promise<void>;
  stop(): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function startOperatorServer(opts: OperatorServerOptions): Promise<OperatorServer> {
  const { kube, log } = opts;
  const service = opts.service ?? { namespace: "kube-system", name: "restash-operator" };
  const dnsNames = [serviceDnsName(service.namespace, service.name), `${service.name}.${service.namespace}`];
  // Every replica signs with the one CA in caSecret, so the caBundle each registers is the same.
  const ca = opts.caSecret && !opts.certs ? await sharedCA(kube, { ...opts.caSecret, log }) : undefined;
  const certs = opts.certs ?? (await createServingCerts({ dnsNames, ca }));
  const frontProxy = opts.frontProxy ?? (await readFrontProxyConfig(kube));
  const ownsScratch = !opts.scratchDir;
  const scratchDir = opts.scratchDir ?? mkdtempSync(join(tmpdir(), "restash-operator-"));
  const source =
    opts.snapshotSource ??
    resticSource({
      kube,
      scratchDir,
      resticBin: opts.resticBin,
      localPath: opts.localPath,
      baseEnv: baseEnv(),
      onSecretRead: (ns, name, rv) => index.secretRead(ns, name, rv),
    });
  const index = new SnapshotIndex({
    load: (repo) => source.list(repo),
    maxAgeMs: opts.index?.maxAgeMs,
    errorRetryMs: opts.index?.errorRetryMs,
    onError: (repo, e) => log?.warn("snapshot listing failed", { repository: repo, error: e instanceof Error ? e.message : String(e) }),
  });
  index.start();
  // A storage Secret that changes (rotated password, new credentials or CA) reloads the listings of
  // the Repositories using it. Metadata-only events, no cache: the Secrets are never held.
  const secretWatch =
    opts.watchSecrets === false
      ? undefined
      : startWatcher(
          kube,
          {
            path: "/api/v1/secrets",
            // Name and resourceVersion are all it needs: the Secrets' data never reaches this process.
            metadataOnly: true,
            onEvent: (secret, type) => {
              const marked = index.secretChanged(
                secret.metadata.namespace!,
                secret.metadata.name!,
                type === "delete" ? undefined : secret.metadata.resourceVersion,
              );
              if (marked.length > 0)
                log?.info("storage Secret changed; reloading snapshot listings", {
                  secret: `${secret.metadata.namespace}/${secret.metadata.name}`,
                  repositories: marked,
                });
            },
          },
          log ?? silentLogger(),
          realClock,
        );

  const cached = opts.lookups ? undefined : cachedLookups(kube, log ?? silentLogger());
  const lookups = opts.lookups ?? cached!;

  const app = express();
  app.disable("x-powered-by");
  app.get(["/healthz", "/readyz", "/livez"], (_req, res) => void res.type("text/plain").send("ok"));
  app.use(ADMISSION_PREFIX, admissionRouter({ registry: admissionRegistry(opts.inject), lookups, log }));
  app.use(snapshotRouter({ kube, index, source, frontProxy: () => frontProxy, authorizer: sarAuthorizer(kube), log }));

  const context = () => ({ cert: certs.current().certPem, key: certs.current().keyPem, ca: frontProxy.caPem });
  // Client certificates are requested (the aggregator sends one) but not required: the API server
  // calls webhooks without one. The Snapshot API checks them per request.
  const server: Server = createServer({ ...context(), requestCert: true, rejectUnauthorized: false }, app);
  const unsubscribe = certs.onRotate(() => {
    server.setSecureContext(context());
    log?.info("serving certificate rotated", { notAfter: certs.notAfter().toISOString() });
  });

  // Renew before expiry, on a timer that re-arms itself after each rotation.
  let renewTimer: NodeJS.Timeout | undefined;
  const armRenewal = () => {
    const delay = Math.min(renewalDelayMs(certs.notAfter(), new Date(), opts.renewBeforeMs ?? 7 * 86_400_000), 2 ** 31 - 1);
    renewTimer = setTimeout(() => void certs.rotate().then(armRenewal, (e) => log?.error("certificate rotation failed", { error: e })), delay);
    renewTimer.unref();
  };
  armRenewal();

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port ?? 0, opts.host ?? "127.0.0.1", () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  if (opts.unref) {
    server.unref();
    server.on("connection", (socket: import("node:net").Socket) => socket.unref());
  }
  log?.info("operator server listening", { port });

  const created: { apiVersion: string; kind: string; name: string; namespace?: string }[] = [];

  async function registerWithApiServer(r: RegisterOptions = {}): Promise<void> {
    if (r.webhooks !== false) {
      const o = {
        name: r.webhookConfigName ?? "restash",
        endpoint: r.webhookEndpoint ?? { url: `https://127.0.0.1:${port}` },
        caBundle: certs.caBundle,
        scope: r.webhookScope,
      };
      for (const obj of [mutatingWebhookConfiguration(o), validatingWebhookConfiguration(o)]) {
        await kube.apply(obj, { force: true });
        created.push({ apiVersion: obj.apiVersion, kind: obj.kind, name: obj.metadata.name! });
      }
    }
    if (r.apiService !== false) {
      const svc = r.apiServiceService ?? { ...(opts.service ?? { namespace: "kube-system", name: "restash-operator" }), externalName: !opts.service };
      // The aggregator verifies the serving certificate against <svc>.<ns>.svc.
      const dns = serviceDnsName(svc.namespace, svc.name);
      if (!certs.dnsNames.includes(dns)) {
        throw new Error(
          `the serving certificate has no SAN ${dns} (it has ${certs.dnsNames.join(", ")}): start the server with service: { namespace: ${JSON.stringify(svc.namespace)}, name: ${JSON.stringify(svc.name)} }`,
        );
      }
      if (svc.externalName) {
        await kube.apply(externalNameService(svc.namespace, svc.name), { force: true });
        created.push({ apiVersion: "v1", kind: "Service", name: svc.name, namespace: svc.namespace });
      }
      const apiService = snapshotApiService({ serviceNamespace: svc.namespace, serviceName: svc.name, port: svc.port ?? port, caBundle: certs.caBundle });
      await kube.apply(apiService, { force: true });
      created.push({ apiVersion: apiService.apiVersion, kind: apiService.kind, name: API_SERVICE_NAME });
      const deadline = Date.now() + (r.waitAvailableMs ?? 30_000);
      for (;;) {
        const live = await kube.get<V1APIService>("apiregistration.k8s.io/v1", "APIService", API_SERVICE_NAME);
        const cond = (live.status?.conditions ?? []).find((c) => c.type === "Available");
        if (cond?.status === "True") break;
        if (Date.now() > deadline)
          throw new Error(`APIService ${API_SERVICE_NAME} is not Available: ${cond?.reason ?? "no condition"} ${cond?.message ?? ""}`.trim());
        await sleep(100);
      }
    }
  }

  async function unregister(): Promise<void> {
    for (const c of created.splice(0).reverse()) {
      await kube.delete({ apiVersion: c.apiVersion, kind: c.kind, metadata: { name: c.name, namespace: c.namespace } }).catch(() => false);
    }
  }

  let stopped = false;
  return {
    port,
    caBundle: certs.caBundle,
    certs,
    index,
    invalidate: (ns, name) => index.invalidate(ns, name),
    async warmSnapshotIndex(namespace) {
      const repos = (await kube.list<Repository>("stash.appscode.com/v1alpha1", "Repository", namespace)).items;
      await index.warm(repos);
      return repos.length;
    },
    registerWithApiServer,
    unregister,
    async stop() {
      if (stopped) return;
      stopped = true;
      await unregister();
      // Requests in flight (an admission review, a snapshot listing) are answered before the caches
      // they read stop: no new connections, idle ones closed, busy ones given up to drainMs.
      await new Promise<void>((resolve) => {
        const force = setTimeout(() => server.closeAllConnections(), opts.drainMs ?? 5000);
        server.close(() => {
          clearTimeout(force);
          resolve();
        });
        server.closeIdleConnections();
      });
      index.stop();
      await secretWatch?.stop();
      await cached?.stop();
      unsubscribe();
      if (renewTimer) clearTimeout(renewTimer);
      if (ownsScratch) rmSync(scratchDir, { recursive: true, force: true });
    },
  };
}
