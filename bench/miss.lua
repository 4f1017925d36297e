-- wrk script: every request carries another session cookie, read from the
-- file MISS_COOKIES (one cookie value a line), in turn; each thread starts
-- at another place of the list. With more sessions than the worker's
-- cache holds (or the cache off), every gated request is a Redis read.
--
--   wrk -s bench/miss.lua URL  with MISS_COOKIES set

local cookies = {}
local i = 0

function init(args)
    for line in io.lines(os.getenv("MISS_COOKIES")) do
        cookies[#cookies + 1] = "guichet=" .. line
    end
    i = math.random(#cookies)
end

function request()
    i = i % #cookies + 1
    return wrk.format(nil, nil, {["Cookie"] = cookies[i]})
end
