-- wrk script: each request authenticates a different user with that user's current TOTP code.
-- BENCH_CODES names a file of "username code" lines; each wrk thread takes every Nth line.
local threads = {}
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("tid", counter)
  table.insert(threads, thread)
end

function init(args)
  local path = os.getenv("BENCH_CODES")
  local nthreads = tonumber(os.getenv("BENCH_THREADS") or "1")
  local key = os.getenv("BENCH_API_KEY")
  wrk.headers["Authorization"] = "Bearer " .. key
  wrk.headers["Content-Type"] = "application/json"
  bodies = {}
  local i = 0
  for line in io.lines(path) do
    if i % nthreads == (tid - 1) then
      local user, code = line:match("^(%S+) (%d+)$")
      bodies[#bodies + 1] = '{"username":"' .. user .. '","passcode":"' .. code .. '"}'
    end
    i = i + 1
  end
  n = 0
  approved = 0
  other = 0
end

function request()
  n = n + 1
  local body = bodies[((n - 1) % #bodies) + 1]
  return wrk.format("POST", "/api/v1/authentications", nil, body)
end

function response(status, headers, body)
  if status == 201 and body:find('"state":"approved"', 1, true) then
    approved = approved + 1
  else
    other = other + 1
  end
end

function done(summary, latency, requests)
  local a, o = 0, 0
  for _, t in ipairs(threads) do
    a = a + t:get("approved")
    o = o + t:get("other")
  end
  io.write(string.format("RESULT approved=%d other=%d\n", a, o))
end
