import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { loadAll } from "js-yaml";
import { WEBHOOKS_FILE, deployedWebhooks } from "./webhooks.ts";

test("deploy/webhooks.yaml holds the webhooks the operator registers, through its Service (node deploy/webhooks.ts rewrites it)", () => {
  assert.deepEqual(loadAll(readFileSync(WEBHOOKS_FILE, "utf8")), deployedWebhooks());
});
