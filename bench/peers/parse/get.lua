-- GET one task by id with its owner's session token; the task's ACL grants the read.
local parse = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "parse.lua")

parse.scenario(function(user)
    return "GET", "/parse/classes/Task/" .. user.task
end)
