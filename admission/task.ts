// Task admission: every step names a Function, which must exist (both are cluster-scoped).
import type { Task } from "../schema/types.generated.ts";
import { validating, type KindAdmission, type Violation } from "./types.ts";

export const taskAdmission: KindAdmission = {
  validate: validating<Task>(async (obj, _old, ctx) => {
    if (obj.metadata.deletionTimestamp) return [];
    const out: Violation[] = [];
    const steps = Array.isArray(obj.spec?.steps) ? obj.spec.steps : [];
    for (const [i, step] of steps.entries()) {
      const name = step?.name;
      if (typeof name !== "string" || !name) continue; // the CRD schema reports a missing name
      if (!(await ctx.lookups.getFunction(name))) out.push({ field: `spec.steps[${i}].name`, message: `Function ${JSON.stringify(name)} not found` });
    }
    return out;
  }),
};
