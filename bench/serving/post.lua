-- bench/serving.sh's wrk script: POSTs one JSON body again and again and
-- prints one parseable result line when the run ends.
--
-- The body is read from the file named after wrk's `--` (wrk.args[1]), or
-- else by $KEEL_BENCH_BODY:
--   wrk -s post.lua http://127.0.0.1:8000/v2/models/bc/infer -- body.json
-- done() prints (latencies in microseconds, wrk's own histogram):
--   wrk-result requests=N duration_us=D bytes=B connect=E read=E write=E
--     status=E timeout=E p50_us=L p90_us=L p99_us=L max_us=L
-- where status counts the responses with an HTTP status of 400 or more
-- (wrk's "Non-2xx or 3xx responses") and connect..timeout its socket errors.

local function read_body(path)
  local file, err = io.open(path, "rb")
  if not file then
    error("post.lua: cannot read the body file: " .. tostring(err))
  end
  local body = file:read("*a")
  file:close()
  return body
end

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"

-- Runs in each thread before wrk formats its one static request.
function init(args)
  local path = args[1] or os.getenv("KEEL_BENCH_BODY")
  if not path then
    error("post.lua: name the body file after -- or in KEEL_BENCH_BODY")
  end
  wrk.body = read_body(path)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "wrk-result requests=%d duration_us=%d bytes=%d connect=%d read=%d write=%d " ..
    "status=%d timeout=%d p50_us=%.1f p90_us=%.1f p99_us=%.1f max_us=%.1f\n",
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write,
    e.status, e.timeout, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max))
end
