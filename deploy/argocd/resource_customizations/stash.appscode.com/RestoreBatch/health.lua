-- Argo CD health for Stash RestoreBatch: its phase is the verdict of the restore of every member.
local phase = obj.status and obj.status.phase or nil
local function cond(t)
  for _, c in ipairs((obj.status and obj.status.conditions) or {}) do if c.type == t then return c end end
  return nil
end
local function firstError()
  for _, m in ipairs((obj.status and obj.status.members) or {}) do
    local ref = m.ref or {}
    local who = tostring(ref.kind) .. " " .. tostring(ref.name)
    for _, s in ipairs(m.stats or {}) do
      if (s.phase == "Failed" or s.phase == "Unknown") and s.error ~= nil then return who .. ", " .. s.hostname .. ": " .. s.error end
    end
    for _, c in ipairs(m.conditions or {}) do
      if c.status == "False" and c.message ~= nil then return who .. ": " .. c.message end
    end
  end
  for _, c in ipairs((obj.status and obj.status.conditions) or {}) do
    if c.status == "False" and c.message ~= nil and c.type ~= "Ready" and c.type ~= "Reconciling" and c.type ~= "Stalled" then return c.message end
    if c.type == "DeadlineExceeded" and c.status == "True" then return c.message end
  end
  return nil
end
local function done()
  local n, total = 0, 0
  for _, m in ipairs((obj.status and obj.status.members) or {}) do
    total = total + 1
    if m.phase == "Succeeded" then n = n + 1 end
  end
  if obj.spec ~= nil and obj.spec.members ~= nil then total = #obj.spec.members end
  return tostring(n) .. "/" .. tostring(total) .. " members restored"
end
if phase == "Succeeded" then return { status = "Healthy", message = "Restore succeeded: " .. done() } end
if phase == "Failed" or phase == "Invalid" then
  return { status = "Degraded", message = firstError() or ("Restore " .. string.lower(phase)) }
end
if phase == "Unknown" then return { status = "Unknown", message = firstError() or "Restore state is unknown" } end
local stalled = cond("Stalled")
if stalled ~= nil and stalled.status == "True" then
  return { status = "Degraded", message = stalled.message or stalled.reason or "Stalled" }
end
return { status = "Progressing", message = "Restore " .. string.lower(phase or "pending") .. ": " .. done() }
