-- Argo CD health for Stash BackupSession: its phase is the verdict of one backup run.
local phase = obj.status and obj.status.phase or nil
local function cond(t)
  for _, c in ipairs((obj.status and obj.status.conditions) or {}) do if c.type == t then return c end end
  return nil
end
local function failure()
  for _, t in ipairs((obj.status and obj.status.targets) or {}) do
    for _, s in ipairs(t.stats or {}) do
      if s.phase == "Failed" and s.error ~= nil then return s.hostname .. ": " .. s.error end
    end
  end
  local d = cond("DeadlineExceeded")
  if d ~= nil and d.status == "True" then return d.message end
  return "Backup failed"
end
if phase == "Succeeded" then return { status = "Healthy", message = "Backup succeeded" } end
if phase == "Skipped" then
  local s = cond("BackupSkipped")
  return { status = "Healthy", message = (s and s.message) or "Backup skipped" }
end
if phase == "Failed" then return { status = "Degraded", message = failure() } end
if phase == "Unknown" then return { status = "Unknown", message = "Backup state is unknown" } end
return { status = "Progressing", message = "Backup " .. string.lower(phase or "pending") }
