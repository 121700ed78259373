// Errors of the Snapshot API, answered as Kubernetes Status objects so kubectl and client libraries
// show them as they show the API server's own.
import { GROUP, RESOURCE } from "./api-group.ts";

export class ApiStatusError extends Error {
  readonly code: number;
  readonly reason: string;
  readonly objectName?: string;
  constructor(code: number, reason: string, message: string, name?: string) {
    super(message);
    this.name = "ApiStatusError";
    this.code = code;
    this.reason = reason;
    this.objectName = name;
  }
}

export const notFound = (name: string, what = `${RESOURCE}.${GROUP}`) => new ApiStatusError(404, "NotFound", `${what} ${JSON.stringify(name)} not found`, name);
export const badRequest = (message: string) => new ApiStatusError(400, "BadRequest", message);
export const unauthorized = (message: string) => new ApiStatusError(401, "Unauthorized", message);
export const forbidden = (message: string) => new ApiStatusError(403, "Forbidden", message);
export const methodNotAllowed = (verb: string) =>
  new ApiStatusError(405, "MethodNotAllowed", `${verb} is not supported on ${RESOURCE}.${GROUP} (get, list and delete are)`);
export const unavailable = (message: string) => new ApiStatusError(503, "ServiceUnavailable", message);

export function statusBody(e: ApiStatusError) {
  return {
    kind: "Status",
    apiVersion: "v1",
    metadata: {},
    status: "Failure",
    message: e.message,
    reason: e.reason,
    details: e.objectName !== undefined ? { name: e.objectName, group: GROUP, kind: RESOURCE } : { group: GROUP, kind: RESOURCE },
    code: e.code,
  };
}

export function successBody(name: string) {
  return { kind: "Status", apiVersion: "v1", metadata: {}, status: "Success", details: { name, group: GROUP, kind: RESOURCE } };
}
