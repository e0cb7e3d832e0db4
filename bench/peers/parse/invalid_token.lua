-- GET a task with a session token of the right form that no session has; Parse answers 400
-- with error code 209 (invalid session token) every time.
local parse = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "parse.lua")

parse.scenario(function(user)
    return "GET", "/parse/classes/Task/" .. user.task
end, function(user)
    return "r:" .. string.rep("0", #user.token - 2)
end)
