-- Search as in search.lua without the count of all matches.
local common = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "../../common.lua")

common.scenario(function()
    return "GET", "/items/task?limit=20&sort=date_created"
        .. "&filter%5Buser_created%5D%5B_eq%5D=%24CURRENT_USER"
end)
