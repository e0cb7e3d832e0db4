-- Search: the first 20 tasks whose owner is the caller, oldest first, with the total count.
-- The ACLs would hide other users' tasks anyway; the owner constraint lets the index serve it.
local parse = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "parse.lua")

parse.scenario(function(user)
    return "GET", "/parse/classes/Task?limit=20&count=1&order=createdAt&where="
        .. parse.escape('{"owner":' .. parse.owner(user) .. "}")
end)
