-- Create one task per request; Directus sets user_created to the caller.
local common = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "../../common.lua")

common.scenario(function(_, n)
    return "POST", "/items/task",
        string.format('{"title":"bench task %d","estimate":%d,"priority":"Medium"}', n, n % 40)
end)
