-- Search as in search.lua without the count of all matches.
local parse = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "parse.lua")

parse.scenario(function(user)
    return "GET", "/parse/classes/Task?limit=20&order=createdAt&where="
        .. parse.escape('{"owner":' .. parse.owner(user) .. "}")
end)
