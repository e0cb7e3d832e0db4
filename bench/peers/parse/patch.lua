-- Modify one field of the user's own task with PUT, Parse's partial update.
local parse = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "parse.lua")

parse.scenario(function(user, n)
    return "PUT", "/parse/classes/Task/" .. user.task, string.format('{"estimate":%d}', n % 40)
end)
