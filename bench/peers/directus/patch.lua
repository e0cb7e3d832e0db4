-- Modify one field of the user's own task with PATCH.
local common = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "../../common.lua")

common.scenario(function(user, n)
    return "PATCH", "/items/task/" .. user.task, string.format('{"estimate":%d}', n % 40)
end)
