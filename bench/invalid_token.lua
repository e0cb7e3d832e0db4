-- GET a task with a token of the right length that no session has; expects 401 every time.
local common = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "common.lua")

common.scenario(function(user)
    return "GET", "/api/1.1/obj/task/" .. user.task
end, {
    token = function(user)
        return string.rep("x", #user.token)
    end,
})
