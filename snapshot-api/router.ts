// The HTTP face of the Snapshot API, as the aggregator proxies it: discovery, then
// /apis/repositories.stash.appscode.com/v1alpha1/[namespaces/<ns>/]snapshots[/<name>].
// Every request is authenticated (front-proxy certificate + headers); resource requests are also
// authorised with a SubjectAccessReview. Errors are Kubernetes Status objects.
import express, { type Request, type Response, type NextFunction } from "express";
import type { Logger } from "../lib/logger.ts";
import { GROUP, VERSION, apiGroup, apiGroupList, apiResourceList } from "./api-group.ts";
import { authenticate, type FrontProxyConfig, type UserInfo } from "./front-proxy-auth.ts";
import { forbiddenMessage, type Authorizer } from "./authorize.ts";
import { ApiStatusError, forbidden, methodNotAllowed, statusBody, successBody, unauthorized } from "./status.ts";
import { deleteSnapshot, getSnapshot, listSnapshots, type SnapshotsDeps } from "./snapshots.ts";
import { snapshotTable, wantsTable, type IncludeObject } from "./table.ts";
import { GROUP_VERSION } from "./api-group.ts";

export interface SnapshotRouterOptions extends SnapshotsDeps {
  /** Resolved lazily so the server can read it from the cluster at start-up. */
  frontProxy: () => FrontProxyConfig;
  authorizer: Authorizer;
  log?: Logger;
}

const BASE = `/apis/${GROUP}/${VERSION}`;

function sendError(res: Response, e: unknown, log?: Logger) {
  const err = e instanceof ApiStatusError ? e : new ApiStatusError(500, "InternalError", e instanceof Error ? e.message : String(e));
  if (err.code >= 500) log?.warn("snapshot api error", { code: err.code, message: err.message });
  res.status(err.code).json(statusBody(err));
}

function includeObject(q: unknown): IncludeObject {
  return q === "None" || q === "Object" ? q : "Metadata";
}

export function snapshotRouter(opts: SnapshotRouterOptions): express.Router {
  const router = express.Router();
  const users = new WeakMap<Request, UserInfo>();

  router.use((req, res, next) => {
    const auth = authenticate(req, opts.frontProxy());
    if (!auth.ok) return sendError(res, unauthorized(auth.reason), opts.log);
    users.set(req, auth.user);
    next();
  });

  const authorized = (verb: string) => async (req: Request, res: Response, next: NextFunction) => {
    const user = users.get(req)!;
    const access = { verb, namespace: req.params.ns as string | undefined, name: req.params.name as string | undefined };
    try {
      const d = await opts.authorizer.authorize(user, access);
      if (!d.allowed) return sendError(res, forbidden(forbiddenMessage(user, access)), opts.log);
      next();
    } catch (e) {
      sendError(res, e, opts.log);
    }
  };

  router.get("/apis", (_req, res) => void res.json(apiGroupList()));
  router.get(`/apis/${GROUP}`, (_req, res) => void res.json(apiGroup()));
  router.get(BASE, (_req, res) => void res.json(apiResourceList()));

  const list = async (req: Request, res: Response) => {
    try {
      if (req.query.watch === "true" || req.query.watch === "1") throw methodNotAllowed("watch");
      const records = await listSnapshots(opts, {
        namespace: req.params.ns as string | undefined,
        labelSelector: req.query.labelSelector as string | undefined,
        fieldSelector: req.query.fieldSelector as string | undefined,
      });
      if (wantsTable(req.get("accept"))) return void res.json(snapshotTable(records, includeObject(req.query.includeObject)));
      res.json({ kind: "SnapshotList", apiVersion: GROUP_VERSION, metadata: { resourceVersion: "" }, items: records.map((r) => r.object) });
    } catch (e) {
      sendError(res, e, opts.log);
    }
  };
  const get = async (req: Request, res: Response) => {
    try {
      const rec = await getSnapshot(opts, req.params.ns as string, req.params.name as string);
      if (wantsTable(req.get("accept"))) return void res.json(snapshotTable([rec], includeObject(req.query.includeObject)));
      res.json(rec.object);
    } catch (e) {
      sendError(res, e, opts.log);
    }
  };
  const del = async (req: Request, res: Response) => {
    try {
      await deleteSnapshot(opts, req.params.ns as string, req.params.name as string);
      opts.log?.info("snapshot forgotten", { namespace: req.params.ns, name: req.params.name, user: users.get(req)?.username });
      res.json(successBody(req.params.name as string));
    } catch (e) {
      sendError(res, e, opts.log);
    }
  };

  router.get(`${BASE}/snapshots`, authorized("list"), list);
  router.get(`${BASE}/namespaces/:ns/snapshots`, authorized("list"), list);
  router.get(`${BASE}/namespaces/:ns/snapshots/:name`, authorized("get"), get);
  router.delete(`${BASE}/namespaces/:ns/snapshots/:name`, authorized("delete"), del);
  router.all(`${BASE}/*rest`, (req, res) => sendError(res, methodNotAllowed(req.method), opts.log));
  return router;
}
