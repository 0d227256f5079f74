-- wrk script for the forward-auth benchmark: the request comes from wrk's command line (URL and
-- -H headers); this only counts the answers, so a run whose decisions were not all "pass" shows it.
-- With BENCH_PACE_MS set, each connection waits that long before each request (a paced load that
-- leaves the servers' core partly idle, so latency shows the work of a request, not a queue).
local threads = {}
local pace = tonumber(os.getenv("BENCH_PACE_MS") or "")

if pace then
  function delay()
    return pace
  end
end

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  passed = 0
  other = 0
end

function response(status, headers, body)
  if status == 200 then
    passed = passed + 1
  else
    other = other + 1
  end
end

function done(summary, latency, requests)
  local p, o = 0, 0
  for _, t in ipairs(threads) do
    p = p + t:get("passed")
    o = o + t:get("other")
  end
  io.write(string.format("RESULT passed=%d other=%d\n", p, o))
end
