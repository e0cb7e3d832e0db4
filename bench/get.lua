-- GET one task by id with its owner's token; the privacy rule "mine" grants the read.
-- Also the script of the nginx ceiling run, where nginx returns the same body for every path.
local common = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "common.lua")

common.scenario(function(user)
    return "GET", "/api/1.1/obj/task/" .. user.task
end)
