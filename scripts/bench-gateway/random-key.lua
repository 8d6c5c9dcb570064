-- wrk script of npm run bench:gateway: every request carries a random X-Hash-Key out of 10,000 keys and the
-- bearer token in BENCH_TOKEN; done() prints one line "WRK_JSON {...}" that the benchmark parses.
local token = os.getenv("BENCH_TOKEN") or ""
local keys = 10000

function setup(thread)
  thread:set("seed", math.random(1, 2147483647))
end

function init(args)
  math.randomseed(seed or os.time())
end

function request()
  return wrk.format("GET", nil, {
    ["X-Hash-Key"] = "key-" .. math.random(1, keys),
    ["Authorization"] = "Bearer " .. token,
  })
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests":%d,"durationUs":%d,"p50Us":%d,"p99Us":%d,"non2xx":%d,"connect":%d,"read":%d,"write":%d,"timeout":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.status, e.connect, e.read, e.write, e.timeout))
end
