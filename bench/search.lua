-- Search: the first 20 tasks the token's user may find, with the exact remaining count.
local common = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "common.lua")

common.scenario(function()
    return "GET", "/api/1.1/obj/task?limit=20"
end)
