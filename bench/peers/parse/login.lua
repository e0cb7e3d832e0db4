-- Log in with username (the email) and password; bound by Parse's bcrypt password hash.
local parse = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "parse.lua")

parse.scenario(function(user)
    return "POST", "/parse/login",
        string.format('{"username":"%s","password":"%s"}', user.email, user.password)
end, function()
    return nil
end)
