-- wrk script for bench/soak.py: the snippet's click at a steady pace.
--   wrk ... -s bench/soak.lua URL -- <publishable key> <run label> <delay ms per request>
-- Each connection waits <delay> ms before each request, so the rate is about
-- connections x 1000 / (delay + latency). Counts the non-2xx answers like wrk.lua.
local threads = {}
local counter = 1

function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  key = args[1] or ""
  label = args[2] or "soak"
  pace = tonumber(args[3] or "0")
  sent = 0
  non2xx = 0
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "text/plain"
  prefix = string.format("%s-t%d-", label, tid)
end

function delay()
  return pace
end

function request()
  sent = sent + 1
  local body = string.format(
    '{"k":"%s","c":"ALICE","v":"%s%09d","u":"http://shop.localhost:8000/?ref=ALICE"}',
    key, prefix, sent)
  return wrk.format(nil, nil, nil, body)
end

function response(status, headers, body)
  if status < 200 or status > 299 then
    non2xx = non2xx + 1
  end
end

function done(summary, latency, requests)
  local total_non2xx = 0
  for _, thread in ipairs(threads) do
    total_non2xx = total_non2xx + thread:get("non2xx")
  end
  io.write(string.format("BENCH requests %d\n", summary.requests))
  io.write(string.format("BENCH duration_us %d\n", summary.duration))
  io.write(string.format("BENCH non2xx %d\n", total_non2xx))
  io.write(string.format("BENCH errors %d\n", summary.errors.connect + summary.errors.read
    + summary.errors.write + summary.errors.timeout))
  io.write(string.format("BENCH p99_us %d\n", latency:percentile(99)))
end
