-- Search as in search.lua, with exclude_remaining=true so no count of the rest is made.
local common = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "common.lua")

common.scenario(function()
    return "GET", "/api/1.1/obj/task?limit=20&exclude_remaining=true"
end)
