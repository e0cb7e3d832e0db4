-- Log in with email and password; bound by Directus's argon2 password hash.
local common = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "../../common.lua")

common.scenario(function(user)
    return "POST", "/auth/login",
        string.format('{"email":"%s","password":"%s"}', user.email, user.password)
end, {
    token = function()
        return nil
    end,
})
