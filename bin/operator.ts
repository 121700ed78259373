// The operator process: the Stash-kind controllers, the policy sync, the auto-backup controller,
// the HTTPS server (admission webhooks + Snapshot API) and the metrics/health endpoints.
// Config is parsed once here and passed down; nothing reads process.env at import.
import { parseArgs } from "node:util";
import { createServer, type Server } from "node:http";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import express from "express";
import { Kube } from "../lib/kube/client.ts";
import { createLogger, type Level, type Logger } from "../lib/logger.ts";
import type { OperatorOptions } from "../reconciler/context.ts";
import { startOperator, type Operator } from "../reconciler/operator.ts";
import { startPolicySourceController, type PolicySourceController } from "../reconciler/gitops/controller.ts";
import { startBlueprintController, type BlueprintController } from "../reconciler/blueprints/controller.ts";
import { startOperatorServer, type OperatorServer, type RegisterOptions } from "../server/operator-server.ts";
import { createOperatorMetrics, type OperatorMetrics } from "../reconciler/metrics.ts";
import { receiverRouter } from "../reconciler/gitops/receiver.ts";
import { POLICY_SOURCE_API, POLICY_SOURCE_KIND, REQUESTED_AT_ANNOTATION } from "../policies/policy-source.ts";
import { startLeaderElection, type LeaderElector } from "../lib/leader-election.ts";
import { errorMessage } from "../lib/errors.ts";
import { installCatalog } from "../stash/tasks/catalog.ts";
import { configureBaseEnv } from "../lib/child-env.ts";

export interface OperatorConfig {
  kube: Kube;
  log: Logger;
  /** The runner image for CronJobs, sidecars, init-containers and Jobs. */
  image: string;
  pushgatewayUrl?: string;
  /** The operator's own pod (POD_NAMESPACE, POD_NAME, POD_IP): where a batch's global exec hooks run. */
  ownPod?: OperatorOptions["ownPod"];
  /** HTTPS port of the webhooks and the Snapshot API (0: a free port). */
  securePort: number;
  secureHost: string;
  /** Port of /metrics, /healthz, /readyz and the Git push receiver (0: a free port). */
  metricsPort: number;
  metricsHost: string;
  /** Clones of policy repositories. */
  workDir: string;
  /** Watch one namespace only. */
  namespace?: string;
  /** In a cluster, how long a stopping replica keeps serving after SIGTERM (default 2 s). */
  shutdownDelayMs?: number;
  /** The Secret with the serving CA every replica shares (see server/shared-ca.ts). */
  caSecret?: { namespace: string; name: string };
  /** The Service the API server reaches the operator through (in a cluster). */
  service?: { namespace: string; name: string };
  /** How to register webhooks and the APIService: "cluster" (through `service`), "local" (a process on
   *  127.0.0.1: URL webhooks and an ExternalName Service to localhost), or "none". */
  register: "cluster" | "local" | "none";
  webhookConfigName?: string;
  /** Where a local backend's mountPath is on this machine (local mode: no pods, no volumes). */
  localPath?: (mountPath: string) => string;
  /** Run the controllers, the policy sync and auto-backup only while this replica holds the Lease;
   *  every replica serves the webhooks, the Snapshot API, /metrics and the push receiver. */
  leaderElection?: LeaderElectionConfig;
  /** Called when this replica loses the Lease it held (not when it stops): it must not act any more. */
  onLeadershipLost?: (reason: string) => void;
}

export interface LeaderElectionConfig {
  namespace: string;
  /** The Lease's name. */
  name: string;
  /** This replica (its pod name). */
  identity: string;
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
  releaseOnCancel: boolean;
}

/** What runs on the leader only. */
export interface Controllers {
  operator: Operator;
  policies: PolicySourceController;
  blueprints: BlueprintController;
}

export interface RunningOperator {
  /** The controllers, once this replica leads (at once without leader election). */
  controllers(): Promise<Controllers>;
  readonly leading: boolean;
  server: OperatorServer;
  metrics: OperatorMetrics;
  /** The port of /metrics, /healthz, /readyz and /hooks (the Git push receiver). */
  httpPort: number;
  stop(): Promise<void>;
}

export async function startOperatorProcess(c: OperatorConfig): Promise<RunningOperator> {
  const { kube, log } = c;
  const metrics = createOperatorMetrics(kube);
  let running: Controllers | undefined;
  let leading = false;
  let becameLeader!: (ctl: Controllers) => void;
  const whenLeading = new Promise<Controllers>((resolve) => (becameLeader = resolve));
  const startControllers = async (): Promise<Controllers> => {
    const operator = startOperator({
      kube,
      log: log.child({ component: "controllers" }),
      image: c.image,
      pushgatewayUrl: c.pushgatewayUrl,
      ownPod: c.ownPod,
      namespace: c.namespace,
      metrics,
    });
    const policies = await startPolicySourceController({ kube, log: log.child({ component: "policysource" }), workDir: c.workDir, namespace: c.namespace });
    const blueprints = startBlueprintController({ kube, log: log.child({ component: "blueprints" }), namespace: c.namespace });
    metrics.setQueueDepth(() => ({
      ...Object.fromEntries(Object.entries(operator.queues).map(([k, q]) => [k, q.length])),
      BackupBlueprint: blueprints.queue.length,
    }));
    void Promise.all([operator.synced, blueprints.synced]).then(() => log.info("controllers synced"));
    return { operator, policies, blueprints };
  };
  const stopControllers = async () => {
    const ctl = running;
    running = undefined;
    if (ctl) await Promise.allSettled([ctl.operator.stop(), ctl.policies.stop(), ctl.blueprints.stop()]);
  };
  const server = await startOperatorServer({
    kube,
    port: c.securePort,
    host: c.secureHost,
    service: c.service,
    caSecret: c.caSecret,
    inject: { image: c.image, pushgatewayUrl: c.pushgatewayUrl },
    localPath: c.localPath ? (local) => c.localPath!(local.mountPath) : undefined,
    log: log.child({ component: "server" }),
  });

  // Not ready until the Snapshot index is warm: a replica that turns Ready with a cold index answers
  // its first `kubectl get snapshots` only after one restic listing per Repository (31 s for 100).
  let waitingFor = "the snapshot index is warming";
  const warmStart = Date.now();
  const warmed = server.warmSnapshotIndex(c.namespace).then(
    (repositories) => log.info("snapshot index warm", { repositories, ms: Date.now() - warmStart }),
    (e) => log.warn("snapshot index not warmed; listings load on first read", { error: errorMessage(e) }),
  );
  let ready = false;
  const app = express();
  app.get("/healthz", (_req, res) => void res.type("text/plain").send("ok"));
  // Ready means what every replica serves is served: the webhooks and the Snapshot API (their caches
  // synced), /metrics and the receiver. A standby is as ready as the leader; leading is a label, not health.
  app.get("/readyz", (_req, res) => void (ready ? res.type("text/plain").send("ok") : res.status(503).type("text/plain").send(waitingFor)));
  app.get("/metrics", async (_req, res) => {
    try {
      res.type(metrics.registry.contentType).send(await metrics.registry.metrics());
    } catch (e) {
      res
        .status(500)
        .type("text/plain")
        .send(`metrics: ${(e as Error).message}`);
    }
  });
  // A push is recorded on the PolicySource (Flux's requestedAt annotation) when replicas elect a
  // leader, so whichever replica the Service sends it to, the leader's watch queues the sync, and a
  // push that arrives during a failover is still there for the next leader.
  const requestSync = async (namespace: string, name: string) => {
    await kube.mergePatch(
      { apiVersion: POLICY_SOURCE_API, kind: POLICY_SOURCE_KIND, metadata: { namespace, name } },
      { metadata: { annotations: { [REQUESTED_AT_ANNOTATION]: new Date().toISOString() } } },
    );
  };
  const trigger = (namespace: string, name: string) => {
    if (!c.leaderElection && running) return running.policies.trigger(namespace, name);
    requestSync(namespace, name).catch((e) => log.warn("push not recorded", { policySource: `${namespace}/${name}`, error: (e as Error).message }));
  };
  app.use(receiverRouter({ kube, log: log.child({ component: "receiver" }), trigger }));
  const http: Server = createServer(app);
  await new Promise<void>((resolve) => http.listen(c.metricsPort, c.metricsHost, resolve));
  const addr = http.address();
  const httpPort = typeof addr === "object" && addr ? addr.port : c.metricsPort;

  const lead = async () => {
    leading = true;
    const ctl = await startControllers();
    // The Lease may have gone while the controllers started: then they stop before acting further.
    if (!leading && c.leaderElection) {
      await Promise.allSettled([ctl.operator.stop(), ctl.policies.stop(), ctl.blueprints.stop()]);
      return ctl;
    }
    running = ctl;
    becameLeader(ctl);
    return ctl;
  };
  let elector: LeaderElector | undefined;
  if (c.leaderElection) {
    const le = c.leaderElection;
    elector = startLeaderElection({
      kube,
      ...le,
      log: log.child({ component: "leader-election" }),
      onStartedLeading: () => void lead(),
      onStoppedLeading: (reason) => {
        leading = false;
        void stopControllers();
        if (reason !== "stopped") c.onLeadershipLost?.(reason);
      },
    });
    void warmed.then(() => (ready = true));
    log.info("operator serving; controllers wait for the Lease", {
      securePort: server.port,
      httpPort,
      lease: `${le.namespace}/${le.name}`,
      identity: le.identity,
    });
  } else {
    const ctl = await lead();
    void warmed
      .then(() => (waitingFor = "informers have not synced"))
      .then(() => Promise.all([ctl.operator.synced, ctl.blueprints.synced]))
      .then(() => {
        ready = true;
        log.info("operator ready", { securePort: server.port, httpPort });
      });
  }

  // Registered once readiness is wired: in a cluster the APIService turns Available only when this pod
  // is Ready (an endpoint of its Service), so registering first would wait for itself.
  if (c.register !== "none") {
    const reg: RegisterOptions = { webhookConfigName: c.webhookConfigName ?? "restash" };
    if (c.register === "local") reg.apiServiceService = { namespace: "kube-system", name: "restash-operator", externalName: true };
    // In a cluster the API server reaches the webhooks and the Snapshot API through the operator's
    // Service, on the Service's port (443 -> targetPort https), not on the container's port.
    if (c.register === "cluster" && c.service) {
      const svc = { namespace: c.service.namespace, name: c.service.name, port: 443 };
      reg.webhookEndpoint = { service: svc };
      reg.apiServiceService = svc;
    }
    await server.registerWithApiServer(reg);
  }

  let stopped = false;
  // In a cluster the operator installs the Functions and Tasks it ships (catalog/), so one
  // `kubectl apply --server-side -k .` deploys everything: kubectl cannot apply a Task in the same
  // run that creates its CRD. Retried until the Task webhook answers through this pod's Service.
  if (c.register === "cluster") {
    void (async () => {
      for (let attempt = 1; !stopped; attempt++) {
        try {
          await installCatalog(kube);
          log.info("catalog installed (Functions and Tasks)", { attempts: attempt });
          return;
        } catch (e) {
          if (attempt % 15 === 1) log.info("catalog not installed yet; retrying", { error: errorMessage(e) });
          await new Promise((r) => setTimeout(r, 2000).unref());
        }
      }
    })();
  }
  return {
    controllers: () => whenLeading,
    get leading() {
      return leading;
    },
    server,
    metrics,
    httpPort,
    async stop() {
      if (stopped) return;
      stopped = true;
      await new Promise<void>((resolve) => http.close(() => resolve()));
      http.closeAllConnections();
      // The controllers stop before the Lease is released, so the next leader never overlaps them.
      await stopControllers();
      await elector?.stop();
      // A local process removes what it registered; in a cluster the configurations are the
      // deployment's, and the other replicas serve them.
      if (c.register === "local") await server.unregister().catch(() => {});
      // In a cluster, keep answering while the endpoint of this pod is removed from the Service
      // (kube-proxy lags the SIGTERM by about a second): requests routed here meanwhile still succeed.
      if (c.register === "cluster") await new Promise((r) => setTimeout(r, c.shutdownDelayMs ?? 2000));
      await server.stop();
    },
  };
}

const USAGE = `usage: restash operator [flags]
  --kubeconfig=PATH            default: $KUBECONFIG, then the in-cluster config
  --image=IMAGE                runner image for CronJobs, sidecars and Jobs (default ghcr.io/restash/restash:0.1.0)
  --pushgateway-url=URL        default http://localhost:56789 (the pushgateway beside the operator, as Stash)
  --secure-port=N              webhooks and Snapshot API (default 8443)
  --metrics-port=N             /metrics, /healthz, /readyz, /hooks (default 8080)
  --work-dir=DIR               clones of policy repositories (default $TMPDIR/restash)
  --namespace=NS               watch one namespace only
  --service-name, --service-namespace   the operator's Service (in a cluster)
  --register=cluster|local|none         how webhooks and the APIService are registered (default cluster)
  --ca-secret=[NS/]NAME        the Secret with the serving CA all replicas share (default $POD_NAMESPACE/restash-operator-ca
                               in a pod; empty: a CA of this process's own)
  --enable-leader-election     run the controllers only while holding a Lease (several replicas)
  --leader-election-id=NAME    the Lease (default restash-operator, in --leader-election-namespace or $POD_NAMESPACE)
  --leader-election-lease-duration=35s, --leader-election-renew-deadline=30s, --leader-election-retry-period=5s
  --leader-election-release-on-cancel=true|false   hand the Lease over on SIGTERM (default true)
  --log-level=debug|info|warn|error`;

/** "35s", "1m30s", "500ms" (a Go duration, as Flux's flags take it) -> milliseconds. */
function durationMs(flag: string, value: string): number {
  const parts = [...value.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)];
  const unit: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  if (!parts.length || parts.map((p) => p[0]).join("") !== value) throw new Error(`--${flag}: not a duration: ${JSON.stringify(value)} (e.g. 35s)`);
  return parts.reduce((ms, p) => ms + Number(p[1]) * unit[p[2]], 0);
}

/** `restash operator ...`: parse flags once, run until SIGTERM. */
export async function runOperator(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  // restic (the Snapshot API's listings) and every other child start from this process's PATH and HOME.
  configureBaseEnv(env);
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        kubeconfig: { type: "string" },
        image: { type: "string", default: "ghcr.io/restash/restash:0.1.0" },
        "pushgateway-url": { type: "string", default: "http://localhost:56789" },
        "secure-port": { type: "string", default: "8443" },
        "metrics-port": { type: "string", default: "8080" },
        "bind-address": { type: "string", default: "0.0.0.0" },
        "work-dir": { type: "string", default: join(tmpdir(), "restash") },
        namespace: { type: "string" },
        "service-name": { type: "string" },
        "service-namespace": { type: "string", default: env.POD_NAMESPACE },
        "webhook-configuration": { type: "string", default: "restash" },
        register: { type: "string", default: "cluster" },
        "ca-secret": { type: "string", default: env.POD_NAMESPACE ? `${env.POD_NAMESPACE}/restash-operator-ca` : "" },
        "log-level": { type: "string", default: env.RESTASH_LOG_LEVEL ?? "info" },
        "enable-leader-election": { type: "boolean", default: false },
        "leader-election-id": { type: "string", default: "restash-operator" },
        "leader-election-namespace": { type: "string", default: env.POD_NAMESPACE },
        "leader-election-lease-duration": { type: "string", default: "35s" },
        "leader-election-renew-deadline": { type: "string", default: "30s" },
        "leader-election-retry-period": { type: "string", default: "5s" },
        "leader-election-release-on-cancel": { type: "string", default: "true" },
        help: { type: "boolean" },
      },
    }));
  } catch (e) {
    process.stderr.write(`restash operator: ${(e as Error).message}\n${USAGE}\n`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(USAGE + "\n");
    return 0;
  }
  const register = String(values.register);
  if (!["cluster", "local", "none"].includes(register)) {
    process.stderr.write(`restash operator: --register must be cluster, local or none (got ${JSON.stringify(register)})\n`);
    return 2;
  }
  let caSecret: OperatorConfig["caSecret"];
  const caFlag = String(values["ca-secret"] ?? "");
  if (caFlag) {
    const [ns, name] = caFlag.includes("/") ? caFlag.split("/", 2) : [env.POD_NAMESPACE ?? (values["service-namespace"] as string | undefined), caFlag];
    if (!ns || !name) {
      process.stderr.write(`restash operator: --ca-secret=${caFlag}: give it as NAMESPACE/NAME (no $POD_NAMESPACE to default the namespace)\n`);
      return 2;
    }
    caSecret = { namespace: ns, name };
  }
  let leaderElection: LeaderElectionConfig | undefined;
  if (values["enable-leader-election"]) {
    const namespace = values["leader-election-namespace"] as string | undefined;
    if (!namespace) {
      process.stderr.write("restash operator: --enable-leader-election needs --leader-election-namespace or $POD_NAMESPACE\n");
      return 2;
    }
    try {
      leaderElection = {
        namespace,
        name: String(values["leader-election-id"]),
        identity: env.POD_NAME || `${hostname()}-${process.pid}`,
        leaseDurationMs: durationMs("leader-election-lease-duration", String(values["leader-election-lease-duration"])),
        renewDeadlineMs: durationMs("leader-election-renew-deadline", String(values["leader-election-renew-deadline"])),
        retryPeriodMs: durationMs("leader-election-retry-period", String(values["leader-election-retry-period"])),
        releaseOnCancel: values["leader-election-release-on-cancel"] !== "false",
      };
    } catch (e) {
      process.stderr.write(`restash operator: ${(e as Error).message}\n`);
      return 2;
    }
    if (leaderElection.renewDeadlineMs >= leaderElection.leaseDurationMs) {
      process.stderr.write("restash operator: --leader-election-renew-deadline must be shorter than --leader-election-lease-duration\n");
      return 2;
    }
  }
  // Kube reads the kubeconfig (or the in-cluster service account) without @kubernetes/client-node.
  const kube = values.kubeconfig ? Kube.fromFile(String(values.kubeconfig)) : Kube.fromDefault();
  const log = createLogger({ level: values["log-level"] as Level, fields: { component: "operator" } });
  const svcName = values["service-name"] as string | undefined;
  const svcNs = values["service-namespace"] as string | undefined;
  let lost: (reason: string) => void = () => {};
  const running = await startOperatorProcess({
    kube,
    log,
    image: String(values.image),
    pushgatewayUrl: podsPushgateway(String(values["pushgateway-url"]) || undefined, svcName, svcNs, env),
    securePort: Number(values["secure-port"]),
    secureHost: String(values["bind-address"]),
    metricsPort: Number(values["metrics-port"]),
    metricsHost: String(values["bind-address"]),
    workDir: String(values["work-dir"]),
    namespace: values.namespace as string | undefined,
    service: svcName && svcNs ? { name: svcName, namespace: svcNs } : undefined,
    caSecret,
    ownPod: env.POD_NAMESPACE ? { namespace: env.POD_NAMESPACE, name: env.POD_NAME || undefined, ip: env.POD_IP || undefined } : undefined,
    register: register as OperatorConfig["register"],
    webhookConfigName: String(values["webhook-configuration"]),
    leaderElection,
    onLeadershipLost: (reason) => {
      // As controller-runtime and Flux do: a replica that lost the Lease exits and comes back as a standby.
      log.error("leader election lost; exiting", { reason });
      lost(reason);
    },
  });
  const why = await new Promise<string>((resolve) => {
    lost = resolve;
    process.once("SIGTERM", () => resolve("SIGTERM"));
    process.once("SIGINT", () => resolve("SIGINT"));
  });
  log.info("stopping", { why });
  await running.stop();
  return why.startsWith("SIG") ? 0 : 1;
}

/**
 * The pushgateway URL handed to sidecars, init-containers and Jobs: they run in other pods, where
 * "localhost" is not the pushgateway beside the operator, and where the cluster may have no DNS.
 * "localhost" means the operator's Service; a Service name (`name`, `name.ns.svc`, `name.ns.svc.cluster.local`)
 * in the operator's namespace becomes its ClusterIP, from the service environment variables
 * Kubernetes sets in this pod; without them the DNS name stays.
 */
export function podsPushgateway(url: string | undefined, svcName: string | undefined, svcNs: string | undefined, env: NodeJS.ProcessEnv): string | undefined {
  if (!url || !svcName || !svcNs) return url;
  const u = new URL(url);
  const clusterIP = (name: string) => env[`${name.toUpperCase().replace(/-/g, "_")}_SERVICE_HOST`];
  if (u.hostname === "localhost" || u.hostname === "127.0.0.1") {
    u.hostname = clusterIP(svcName) || `${svcName}.${svcNs}.svc`;
  } else {
    const [name, ns, svc, ...rest] = u.hostname.split(".");
    const sameNamespace = ns === undefined || (ns === svcNs && svc === "svc" && (rest.length === 0 || rest.join(".") === "cluster.local"));
    const ip = sameNamespace ? clusterIP(name) : undefined;
    if (!ip) return url;
    u.hostname = ip;
  }
  return u.toString().replace(/\/$/, "");
}
