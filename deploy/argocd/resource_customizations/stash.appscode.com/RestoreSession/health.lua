-- Argo CD health for Stash RestoreSession.
local phase = obj.status and obj.status.phase or nil
local function firstError()
  for _, s in ipairs((obj.status and obj.status.stats) or {}) do
    if s.phase == "Failed" and s.error ~= nil then return s.hostname .. ": " .. s.error end
  end
  for _, c in ipairs((obj.status and obj.status.conditions) or {}) do
    if c.status == "False" and c.message ~= nil then return c.message end
  end
  return nil
end
if phase == "Succeeded" then return { status = "Healthy", message = "Restore succeeded" } end
if phase == "Failed" or phase == "Invalid" then
  return { status = "Degraded", message = firstError() or ("Restore " .. string.lower(phase)) }
end
if phase == "Unknown" then return { status = "Unknown", message = "Restore state is unknown" } end
return { status = "Progressing", message = "Restore " .. string.lower(phase or "pending") }
