-- A small assert library for the Lua tests.
local function repr(v)
  if type(v) == "string" then return string.format("%q", v) end
  if type(v) == "table" and getmetatable(v) == nil then
    local parts = {}
    for k, x in pairs(v) do parts[#parts + 1] = tostring(k) .. "=" .. repr(x) end
    table.sort(parts)
    return "{" .. table.concat(parts, ", ") .. "}"
  end
  return tostring(v)
end
assert_repr = repr

function assert_eq(got, want, what)
  if got ~= want then
    error((what or "value") .. ": got " .. repr(got) .. ", want " .. repr(want), 3) -- gopher-lua counts levels one lower than Lua 5.1
  end
end

function assert_true(v, what)
  if not v then error((what or "condition") .. " is not true", 3) end
end

-- assert_raises calls fn and checks the error object's class and kind.
function assert_raises(class, kind, fn, ...)
  local ok, err = pcall(fn, ...)
  if ok then error("no error raised, want " .. kind, 3) end
  if type(err) ~= "table" then error("error is not an object: " .. tostring(err), 3) end
  if not class:is(err) then error("error " .. tostring(err) .. " is not a " .. class.name, 3) end
  if err.kind ~= kind then error("error kind " .. tostring(err.kind) .. ", want " .. kind .. " (" .. tostring(err) .. ")", 3) end
  return err
end
