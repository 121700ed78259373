-- Argo CD health for Stash BackupBatch (restash adds kstatus conditions beside Stash's phase;
-- member target conditions are in status.memberConditions).
local hs = { status = "Progressing", message = "Waiting for the BackupBatch to be reconciled" }
if obj.status == nil then return hs end
local function cond(t)
  for _, c in ipairs(obj.status.conditions or {}) do if c.type == t then return c end end
  return nil
end
local function memberProblem()
  for _, m in ipairs(obj.status.memberConditions or {}) do
    for _, c in ipairs(m.conditions or {}) do
      if c.status ~= "True" then
        local t = m.target or {}
        return tostring(t.kind) .. " " .. tostring(t.name) .. ": " .. (c.message or c.reason or c.type)
      end
    end
  end
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
  return { status = "Degraded", message = (v and v.message) or "BackupBatch is invalid" }
end
if obj.spec ~= nil and obj.spec.paused == true then
  return { status = "Suspended", message = "Backup is paused" }
end
if obj.status.phase == "Ready" then
  local n = 0
  if obj.spec ~= nil and obj.spec.members ~= nil then n = #obj.spec.members end
  return { status = "Healthy", message = "Backup of " .. tostring(n) .. " members is scheduled" }
end
local ready = cond("Ready")
hs.message = memberProblem() or (ready and ready.message) or ("Phase: " .. tostring(obj.status.phase))
return hs
