// The admission endpoints: POST /validate and POST /mutate (mounted under /admission by the
// operator server). Body-parser failures become a 400 Status, never an unhandled error.
import express, { type Request, type Response, type NextFunction } from "express";
import type { Logger } from "../lib/logger.ts";
import type { AdmissionLookups } from "./types.ts";
import { review, type AdmissionRegistry, type Mode } from "./review.ts";

export const VALIDATE_PATH = "/validate";
export const MUTATE_PATH = "/mutate";

export function admissionRouter(opts: { registry: AdmissionRegistry; lookups: AdmissionLookups; log?: Logger }): express.Router {
  const router = express.Router();
  router.use(express.json({ limit: "8mb", type: () => true }));
  const handle = (mode: Mode) => async (req: Request, res: Response) => {
    const out = await review(req.body, mode, opts.registry, opts.lookups, opts.log);
    res.status(out.status).json(out.body);
  };
  router.post(VALIDATE_PATH, handle("validate"));
  router.post(MUTATE_PATH, handle("mutate"));
  // body-parser's errors carry `type` and an HTTP `status`.
  router.use((err: (Error & { type?: string; status?: number }) | undefined, _req: Request, res: Response, _next: NextFunction) => {
    const message = `malformed AdmissionReview: ${err?.type === "entity.parse.failed" ? "the body is not valid JSON" : String(err?.message ?? err)}`;
    res
      .status(err?.status && err.status < 500 ? err.status : 400)
      .json({ apiVersion: "v1", kind: "Status", status: "Failure", reason: "BadRequest", code: 400, message });
  });
  return router;
}
