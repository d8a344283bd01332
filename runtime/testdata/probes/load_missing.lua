-- load, loadstring, dofile and loadfile are withheld.
-- expect: ok
for _, name in ipairs{"load", "loadstring", "dofile", "loadfile"} do
  assert(not pcall(function() return _G[name]("return 1")() end), name .. " is available")
end
