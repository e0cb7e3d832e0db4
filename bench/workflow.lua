-- Run the add-task API workflow: it creates a task and returns data from the created thing.
local common = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "common.lua")

common.scenario(function(_, n)
    return "POST", "/api/1.1/wf/add-task", string.format('{"title":"bench workflow %d"}', n)
end)
