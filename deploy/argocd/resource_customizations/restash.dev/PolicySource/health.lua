-- Argo CD health for restash PolicySource (kstatus conditions).
local hs = { status = "Progressing", message = "Waiting for the first sync" }
if obj.spec ~= nil and obj.spec.suspend == true then return { status = "Suspended", message = "Sync is suspended" } end
if obj.status == nil then return hs end
if obj.metadata.generation ~= nil and (obj.status.observedGeneration or 0) < obj.metadata.generation then return hs end
local ready, stalled = nil, nil
for _, c in ipairs(obj.status.conditions or {}) do
  if c.type == "Ready" then ready = c end
  if c.type == "Stalled" then stalled = c end
end
if stalled ~= nil and stalled.status == "True" then return { status = "Degraded", message = stalled.message or stalled.reason } end
if ready ~= nil and ready.status == "True" then return { status = "Healthy", message = ready.message or "Synced" } end
if ready ~= nil and ready.status == "False" then return { status = "Degraded", message = ready.message or ready.reason } end
return hs
