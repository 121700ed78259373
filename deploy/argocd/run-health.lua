-- Runs an Argo CD health.lua the way Argo CD does (a global `obj`, the script's return value), on
-- an object read as JSON from stdin; prints the result as JSON. For tests.
local json = require("dkjson")
local script = arg[1]
local input = io.read("*a")
local decoded, _, err = json.decode(input, 1, json.null)
if err then io.stderr:write("bad JSON: " .. err .. "\n") os.exit(2) end
local function denull(v)
  if v == json.null then return nil end
  if type(v) == "table" then for k, x in pairs(v) do v[k] = denull(x) end end
  return v
end
obj = denull(decoded)
local chunk, lerr = loadfile(script)
if chunk == nil then io.stderr:write(lerr .. "\n") os.exit(2) end
local result = chunk()
io.write(json.encode(result))
