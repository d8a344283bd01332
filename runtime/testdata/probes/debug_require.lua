-- No debug library by any route (a traceback-only stand-in may answer).
-- expect: ok
local routes = {debug, package.loaded.debug, select(2, pcall(require, "debug"))}
for _, d in pairs(routes) do
  if type(d) == "table" then
    for _, f in ipairs{"getregistry", "sethook", "gethook", "getupvalue", "setupvalue", "getlocal", "setlocal", "getinfo", "getmetatable", "setmetatable", "getfenv", "setfenv"} do
      assert(rawget(d, f) == nil, "debug." .. f .. " is available")
    end
  end
end
