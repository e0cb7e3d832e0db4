-- Shared by the Parse Server scenario scripts in this directory: installs a bench/common.lua
-- scenario that sends Parse's application id and the user's session token in Parse's own
-- headers instead of an Authorization header.
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local common = dofile(dir .. "../../common.lua")
local parse = {}

-- Installs the scenario. session_token(user) returns the session token to send, or nil for none;
-- by default the user's own token is sent.
function parse.scenario(make, session_token)
    local token_of = session_token or function(user) return user.token end
    common.scenario(make, {
        token = function() return nil end,
        headers = function(user)
            local headers = { ["X-Parse-Application-Id"] = "bench" }
            headers["X-Parse-Session-Token"] = token_of(user)
            return headers
        end,
    })
end

-- Returns the JSON of a pointer to the user's _User object.
function parse.owner(user)
    return string.format('{"__type":"Pointer","className":"_User","objectId":"%s"}', user.id)
end

-- Returns text percent-encoded for a query string.
function parse.escape(text)
    return (text:gsub("[^%w%-%._~]", function(c) return string.format("%%%02X", c:byte()) end))
end

return parse
