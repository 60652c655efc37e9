-- wrk script for bench_notify.py: each wrk thread walks its own file of pre-built raw HTTP requests
-- (distinct signed and encrypted notifications, some duplicates among them), in order, wrapping
-- around if it runs out (then everything after the wrap is a duplicate). At the end it prints one
-- line, "BENCH {json}", with the totals, the latency percentiles and how many requests each thread
-- issued (so the benchmark knows which notifications were certainly answered).
--
--   wrk -t2 -c64 -d6s -s notify_load.lua http://127.0.0.1:PORT/notify/wechatpay -- DIR

local threads = {}
local next_id = 0

function setup(thread)
  thread:set("tid", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

function init(args)
  local file = assert(io.open(args[1] .. "/requests-" .. tid .. ".bin", "rb"))
  local data = file:read("*a")
  file:close()
  requests = {}
  local at = 1
  while at <= #data do
    local newline = string.find(data, "\n", at, true)
    local length = tonumber(string.sub(data, at, newline - 1))
    table.insert(requests, string.sub(data, newline + 1, newline + length))
    at = newline + 1 + length
  end
  issued = 0
  -- wrk calls request() once on its first thread before the run, to look at it, and never sends
  -- that one: it must not take a notification off the list.
  probe = (tid == 0)
end

function request()
  if probe then
    probe = false
    return requests[1]
  end
  issued = issued + 1
  return requests[((issued - 1) % #requests) + 1]
end

function done(summary, latency, _)
  local per_thread = {}
  for _, thread in ipairs(threads) do
    table.insert(per_thread, string.format('"%d": %d', thread:get("tid"), thread:get("issued")))
  end
  local errors = summary.errors
  io.write(string.format(
    'BENCH {"requests": %d, "duration_us": %d, "connect_errors": %d, "read_errors": %d, "write_errors": %d, '
      .. '"status_errors": %d, "timeouts": %d, "p50_us": %d, "p99_us": %d, "issued": {%s}}\n',
    summary.requests, summary.duration, errors.connect, errors.read, errors.write, errors.status, errors.timeout,
    latency:percentile(50), latency:percentile(99), table.concat(per_thread, ", ")))
end
