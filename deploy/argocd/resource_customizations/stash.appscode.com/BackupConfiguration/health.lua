-- Argo CD health for Stash BackupConfiguration (restash adds kstatus conditions beside Stash's phase).
local hs = { status = "Progressing", message = "Waiting for the BackupConfiguration to be reconciled" }
if obj.status == nil then return hs end
local function cond(t)
  for _, c in ipairs(obj.status.conditions or {}) do if c.type == t then return c end end
  return nil
end
if obj.metadata.generation ~= nil and (obj.status.observedGeneration or 0) < obj.metadata.generation then
  return hs
end
local stalled = cond("Stalled")
if stalled ~= nil and stalled.status == "True" then
  return { status = "Degraded", message = stalled.message or stalled.reason or "Stalled" }
end
if obj.status.phase == "Invalid" then
  local v = cond("ValidationPassed")
  return { status = "Degraded", message = (v and v.message) or "BackupConfiguration is invalid" }
end
if obj.spec ~= nil and obj.spec.paused == true then
  return { status = "Suspended", message = "Backup is paused" }
end
if obj.status.phase == "Ready" then
  return { status = "Healthy", message = "Backup is scheduled" }
end
local ready = cond("Ready")
hs.message = (ready and ready.message) or ("Phase: " .. tostring(obj.status.phase))
return hs
