-- Create one task per request with the Data API; the create rule checks the owner.
local common = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "common.lua")

common.scenario(function(_, n)
    return "POST", "/api/1.1/obj/task",
        string.format('{"title":"bench task %d","estimate":%d,"priority":"Medium"}', n, n % 40)
end)
