// The Snapshot API's identity and discovery documents (pure).
export const GROUP = "repositories.stash.appscode.com";
export const VERSION = "v1alpha1";
export const GROUP_VERSION = `${GROUP}/${VERSION}`;
export const RESOURCE = "snapshots";
export const KIND = "Snapshot";
export const VERBS = ["get", "list", "delete"];

export function apiGroup() {
  const gv = { groupVersion: GROUP_VERSION, version: VERSION };
  return { kind: "APIGroup", apiVersion: "v1", name: GROUP, versions: [gv], preferredVersion: gv };
}

export function apiGroupList() {
  return { kind: "APIGroupList", apiVersion: "v1", groups: [apiGroup()] };
}

export function apiResourceList() {
  return {
    kind: "APIResourceList",
    apiVersion: "v1",
    groupVersion: GROUP_VERSION,
    resources: [{ name: RESOURCE, singularName: "snapshot", namespaced: true, kind: KIND, verbs: VERBS, categories: ["storage", "appscode", "all"] }],
  };
}
