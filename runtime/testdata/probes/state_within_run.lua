-- A run's own state lasts the run (each run has its own under Sandbox).
-- expect: ok
local state = require("state")
local s = state.open("notes")
s:set("k", "v")
s:save()
assert(state.open("notes"):get("k") == "v", "state saved in this run is lost")
local unlock = assert(state.lock("job"))
assert(not state.lock("job"), "a lock this run holds was taken twice")
unlock()
