-- GET one task by id with its owner's access token; the role's item permission grants the read.
local common = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "../../common.lua")

common.scenario(function(user)
    return "GET", "/items/task/" .. user.task
end)
