-- Log in with email and password through the login workflow; bound by the password hash.
local common = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "common.lua")

common.scenario(function(user)
    return "POST", "/api/1.1/wf/login",
        string.format('{"email":"%s","password":"%s"}', user.email, user.password)
end, {
    token = function()
        return nil
    end,
})
