-- wrk script for the saturation phase. It sends one fixed request whose request-target comes from
-- BENCH_PATH verbatim (absolute-form "http://host:port/" through a proxy, "/" direct), counts every
-- non-2xx response (wrk's own status error only counts >= 400), and prints one JSON line at the end.
--
--   BENCH_PATH=http://bench.upstream.test:8080/ BENCH_HOST=bench.upstream.test:8080 \
--     wrk -t1 -c50 -d10s -s bench/wrk-report.lua http://127.0.0.1:PROXY_PORT/

wrk.method = "GET"
wrk.path = os.getenv("BENCH_PATH") or "/"
local host = os.getenv("BENCH_HOST")
if host then wrk.headers["Host"] = host end

-- Each wrk thread runs its own Lua state; setup() runs in the main state and keeps a handle to
-- every thread so done() can add up their counters.
local threads = {}
function setup(thread)
  table.insert(threads, thread)
end

non2xx = 0
function response(status, headers, body)
  if status < 200 or status > 299 then non2xx = non2xx + 1 end
end

function done(summary, latency, requests)
  local bad = 0
  for _, t in ipairs(threads) do bad = bad + t:get("non2xx") end
  local e = summary.errors
  io.write(string.format(
    '{"tool":"wrk","requests":%d,"durationUs":%d,"non2xx":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"timeout":%d},' ..
    '"latencyUs":{"p50":%d,"p90":%d,"p99":%d,"p999":%d,"max":%d}}\n',
    summary.requests, summary.duration, bad, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency:percentile(99.9), latency.max))
end
