// The operator process: the Stash-kind controllers, the policy sync, the auto-backup controller,
// the HTTPS server (admission webhooks + Snapshot API) and the metrics/health endpoints.
// Config is parsed once here and passed down; nothing reads process.env at import.
import { parseArgs } from "node:util";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
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
  /** The Service the API server reaches the operator through (in a cluster). */
  service?: { namespace: string; name: string };
  /** How to register webhooks and the APIService: "cluster" (through `service`), "local" (a process on
   *  127.0.0.1: URL webhooks and an ExternalName Service to localhost), or "none". */
  register: "cluster" | "local" | "none";
  webhookConfigName?: string;
  /** Where a local backend's mountPath is on this machine (local mode: no pods, no volumes). */
  localPath?: (mountPath: string) => string;
}

export interface RunningOperator {
  operator: Operator;
  policies: PolicySourceController;
  blueprints: BlueprintController;
  server: OperatorServer;
  metrics: OperatorMetrics;
  /** The port of /metrics, /healthz, /readyz and /hooks (the Git push receiver). */
  httpPort: number;
  stop(): Promise<void>;
}

export async function startOperatorProcess(c: OperatorConfig): Promise<RunningOperator> {
  const { kube, log } = c;
  const metrics = createOperatorMetrics(kube);
  const operator = startOperator({ kube, log: log.child({ component: "controllers" }), image: c.image, pushgatewayUrl: c.pushgatewayUrl, ownPod: c.ownPod, namespace: c.namespace, metrics });
  const policies = await startPolicySourceController({ kube, log: log.child({ component: "policysource" }), workDir: c.workDir, namespace: c.namespace });
  const blueprints = startBlueprintController({ kube, log: log.child({ component: "blueprints" }), namespace: c.namespace });
  const server = await startOperatorServer({
    kube,
    port: c.securePort,
    host: c.secureHost,
    service: c.service,
    inject: { image: c.image, pushgatewayUrl: c.pushgatewayUrl },
    localPath: c.localPath ? (local) => c.localPath!(local.mountPath) : undefined,
    log: log.child({ component: "server" }),
  });
  metrics.setQueueDepth(() => ({
    ...Object.fromEntries(Object.entries(operator.queues).map(([k, q]) => [k, q.length])),
    BackupBlueprint: blueprints.queue.length,
  }));

  let ready = false;
  const app = express();
  app.get("/healthz", (_req, res) => void res.type("text/plain").send("ok"));
  app.get("/readyz", (_req, res) => void (ready ? res.type("text/plain").send("ok") : res.status(503).type("text/plain").send("informers have not synced")));
  app.get("/metrics", async (_req, res) => {
    try {
      res.type(metrics.registry.contentType).send(await metrics.registry.metrics());
    } catch (e) {
      res.status(500).type("text/plain").send(`metrics: ${(e as Error).message}`);
    }
  });
  app.use("/hooks", policies.receiver);
  const http: Server = createServer(app);
  await new Promise<void>((resolve) => http.listen(c.metricsPort, c.metricsHost, resolve));
  const addr = http.address();
  const httpPort = typeof addr === "object" && addr ? addr.port : c.metricsPort;

  if (c.register !== "none") {
    const reg: RegisterOptions = { webhookConfigName: c.webhookConfigName ?? "restash" };
    if (c.register === "local") reg.apiServiceService = { namespace: "kube-system", name: "restash-operator", externalName: true };
    await server.registerWithApiServer(reg);
  }
  void Promise.all([operator.synced, blueprints.synced]).then(() => {
    ready = true;
    log.info("operator ready", { securePort: server.port, httpPort });
  });

  let stopped = false;
  return {
    operator,
    policies,
    blueprints,
    server,
    metrics,
    httpPort,
    async stop() {
      if (stopped) return;
      stopped = true;
      await new Promise<void>((resolve) => http.close(() => resolve()));
      http.closeAllConnections();
      await Promise.allSettled([operator.stop(), policies.stop(), blueprints.stop()]);
      if (c.register !== "none") await server.unregister().catch(() => {});
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
  --log-level=debug|info|warn|error`;

/** `restash operator ...`: parse flags once, run until SIGTERM. */
export async function runOperator(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
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
        "log-level": { type: "string", default: env.RESTASH_LOG_LEVEL ?? "info" },
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
  // Kube reads the kubeconfig (or the in-cluster service account) without @kubernetes/client-node.
  const kube = values.kubeconfig ? Kube.fromFile(String(values.kubeconfig)) : Kube.fromDefault();
  const log = createLogger({ level: values["log-level"] as Level, fields: { component: "operator" } });
  const svcName = values["service-name"] as string | undefined;
  const svcNs = values["service-namespace"] as string | undefined;
  const running = await startOperatorProcess({
    kube,
    log,
    image: String(values.image),
    pushgatewayUrl: String(values["pushgateway-url"]) || undefined,
    securePort: Number(values["secure-port"]),
    secureHost: String(values["bind-address"]),
    metricsPort: Number(values["metrics-port"]),
    metricsHost: String(values["bind-address"]),
    workDir: String(values["work-dir"]),
    namespace: values.namespace as string | undefined,
    service: svcName && svcNs ? { name: svcName, namespace: svcNs } : undefined,
    ownPod: env.POD_NAMESPACE ? { namespace: env.POD_NAMESPACE, name: env.POD_NAME || undefined, ip: env.POD_IP || undefined } : undefined,
    register: register as OperatorConfig["register"],
    webhookConfigName: String(values["webhook-configuration"]),
  });
  await new Promise<void>((resolve) => {
    process.once("SIGTERM", resolve);
    process.once("SIGINT", resolve);
  });
  log.info("stopping");
  await running.stop();
  return 0;
}
