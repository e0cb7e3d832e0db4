-- GET a task with a bearer token as long as the user's access token that no user has; Directus
-- answers 401 every time.
local common = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "../../common.lua")

common.scenario(function(user)
    return "GET", "/items/task/" .. user.task
end, {
    token = function(user)
        return string.rep("x", #user.token)
    end,
})
