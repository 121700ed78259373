// The runner's metrics adapter lives in commands/runner-metrics.ts; bin/restash.ts imports it here.
export { metricsForPushgateway, runnerMetrics } from "./commands/runner-metrics.ts";
