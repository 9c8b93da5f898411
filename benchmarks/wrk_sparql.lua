-- wrk script for benchmarks/server_qps.py: POST SPARQL queries (form-encoded) to one
-- endpoint, cycling through every body in a file (one urlencoded body per line).
--
--   wrk -t1 -c4 -d5s -s benchmarks/wrk_sparql.lua http://127.0.0.1:PORT -- BODIES ACCEPT PATH
--
-- Requests are formatted once in init(); done() prints one JSON line with the counts the
-- benchmark checks (every response must be a 2xx: wrk counts the others as status errors).

local requests = {}
local next_index = 0

function init(args)
  local path, accept, target = args[1], args[2], args[3]
  for line in io.lines(path) do
    if #line > 0 then
      requests[#requests + 1] = wrk.format("POST", target, {
        ["Content-Type"] = "application/x-www-form-urlencoded",
        ["Accept"] = accept,
      }, line)
    end
  end
  if #requests == 0 then
    error("no request bodies in " .. path)
  end
end

function request()
  next_index = next_index % #requests + 1
  return requests[next_index]
end

function done(summary, latency, _)
  local e = summary.errors
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "bytes": %d, "connect": %d, "read": %d, ' ..
    '"write": %d, "status": %d, "timeout": %d, "p50_us": %d, "p99_us": %d}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write,
    e.status, e.timeout, latency:percentile(50), latency:percentile(99)))
end
