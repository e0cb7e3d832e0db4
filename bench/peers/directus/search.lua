-- Search: the first 20 tasks the caller created, oldest first, with the count of all matches
-- (filter_count). The permission filter would hide other users' tasks anyway; the explicit
-- filter on user_created is what a Directus client sends to ask for its own items.
local common = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "../../common.lua")

common.scenario(function()
    return "GET", "/items/task?limit=20&sort=date_created&meta=filter_count"
        .. "&filter%5Buser_created%5D%5B_eq%5D=%24CURRENT_USER"
end)
