-- wrk script for bench/clicks.py.
--   wrk ... -s bench/wrk.lua URL -- click <publishable key> <run label>
--   wrk ... -s bench/wrk.lua URL -- bare        (GET)
--   wrk ... -s bench/wrk.lua URL -- preflight   (OPTIONS)
-- "click" POSTs the snippet's text/plain JSON body with a visitor id unique to every
-- request (thread number + counter + run label), so nothing is deduplicated. Both
-- modes count the requests sent and the non-2xx answers; done() prints the figures as
-- "BENCH name value" lines for the driver.

local threads = {}
local counter = 1

function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  mode = args[1] or "bare"
  key = args[2] or ""
  label = args[3] or "run"
  sent = 0
  non2xx = 0
  if mode == "click" then
    wrk.method = "POST"
    wrk.headers["Content-Type"] = "text/plain"
  elseif mode == "preflight" then
    wrk.method = "OPTIONS"
  else
    wrk.method = "GET"
  end
  prefix = string.format("%s-t%d-", label, tid)
end

function request()
  sent = sent + 1
  if mode == "click" then
    local body = string.format(
      '{"k":"%s","c":"ALICE","v":"%s%09d","u":"http://shop.localhost:8000/?ref=ALICE"}',
      key, prefix, sent)
    return wrk.format(nil, nil, nil, body)
  end
  return wrk.format()
end

function response(status, headers, body)
  if status < 200 or status > 299 then
    non2xx = non2xx + 1
  end
end

function done(summary, latency, requests)
  local total_sent, total_non2xx = 0, 0
  for _, thread in ipairs(threads) do
    total_sent = total_sent + thread:get("sent")
    total_non2xx = total_non2xx + thread:get("non2xx")
  end
  local e = summary.errors
  io.write(string.format("BENCH requests %d\n", summary.requests))
  io.write(string.format("BENCH duration_us %d\n", summary.duration))
  io.write(string.format("BENCH sent %d\n", total_sent))
  io.write(string.format("BENCH non2xx %d\n", total_non2xx))
  io.write(string.format("BENCH socket_errors %d\n", e.connect + e.read + e.write + e.timeout))
  io.write(string.format("BENCH timeouts %d\n", e.timeout))
  for _, p in ipairs({50, 90, 99, 99.9}) do
    io.write(string.format("BENCH p%s_us %d\n", tostring(p), latency:percentile(p)))
  end
  io.write(string.format("BENCH max_us %d\n", latency.max))
  io.write(string.format("BENCH mean_us %.1f\n", latency.mean))
end
