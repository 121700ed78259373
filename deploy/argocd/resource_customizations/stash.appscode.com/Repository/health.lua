-- Argo CD health for Stash Repository: healthy once reconciled, degraded when restic check failed.
if obj.status == nil then return { status = "Healthy", message = "No backup yet" } end
for _, c in ipairs(obj.status.conditions or {}) do
  if c.type == "Stalled" and c.status == "True" then return { status = "Degraded", message = c.message or c.reason } end
end
if obj.status.integrity == false then
  return { status = "Degraded", message = "restic check found errors in the repository" }
end
local msg = "Repository ready"
if obj.status.snapshotCount ~= nil then msg = tostring(obj.status.snapshotCount) .. " snapshots" end
return { status = "Healthy", message = msg }
