-- Shared by the scenario scripts: reads the data file written by bench/dataset.py and rotates
-- requests over its users. The data file path is the first argument after `--` on the wrk
-- command line; wrk runs init() once in each thread's own Lua state.
local common = {}

local thread_count = 0

-- Numbers the threads. wrk runs this in its main Lua state once per thread, before init().
-- Each thread starts at its own user, so threads do not send the same user's requests in lockstep.
function common.setup(thread)
    thread:set("thread_index", thread_count)
    thread_count = thread_count + 1
end

-- Returns the users of the data file as a list of {token, task, email, password, id}. The user
-- id is an optional sixth field that only the peers' data files (bench/peers/seed.py) carry.
function common.load_users(path)
    local file = assert(io.open(path or "", "r"), "usage: wrk ... -- DATA_FILE")
    local users = {}
    for line in file:lines() do
        local kind, token, task, email, password, id =
            line:match("^(%S+) (%S+) ?(%S*) ?(%S*) ?(%S*) ?(%S*)$")
        if kind == "user" then
            users[#users + 1] =
                { token = token, task = task, email = email, password = password, id = id }
        end
    end
    file:close()
    assert(#users > 0, "no user lines in data file " .. path)
    return users
end

-- Installs setup, init and request globals for a scenario. make(user, n) returns the method,
-- path and body (or nil) of the n-th request of this thread for that user. options.token(user)
-- returns the bearer token to send, or nil for none; by default the user's own token is sent.
-- options.headers(user), when given, returns further headers to send, as a table.
function common.scenario(make, options)
    local token_of = (options and options.token) or function(user) return user.token end
    local extra_headers = options and options.headers
    local users, next_user, sent
    setup = common.setup
    init = function(args)
        users = common.load_users(args[1])
        next_user = ((thread_index or 0) * 17) % #users
        sent = 0
    end
    request = function()
        next_user = next_user % #users + 1
        sent = sent + 1
        local user = users[next_user]
        local method, path, body = make(user, sent)
        local headers = extra_headers and extra_headers(user) or {}
        local token = token_of(user)
        if token then
            headers["Authorization"] = "Bearer " .. token
        end
        if body then
            headers["Content-Type"] = "application/json"
        end
        return wrk.format(method, path, headers, body)
    end
end

return common
