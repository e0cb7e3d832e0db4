-- Create one task per request, owned by the caller and readable and writable by it alone.
local parse = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "parse.lua")

parse.scenario(function(user, n)
    return "POST", "/parse/classes/Task",
        string.format('{"title":"bench task %d","estimate":%d,"priority":"Medium","owner":%s,'
            .. '"ACL":{"%s":{"read":true,"write":true}}}', n, n % 40, parse.owner(user), user.id)
end)
