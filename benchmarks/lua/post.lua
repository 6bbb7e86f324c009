-- wrk script for the Interlink benchmark: POST one JSON body with extra headers, stop after a
-- request cap, print one JSON line (latency percentiles in ms, errors, non-2xx).
-- env: BODY_FILE (the JSON body), HDRS ("Name: v|Name2: v2"), MAX_REQ (cap over all threads;
--      wrk still reports its -d duration when the cap stops it early, so the line says "capped"),
--      WRK_THREADS (= wrk -t).
local f = assert(io.open(os.getenv("BODY_FILE"), "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"
for pair in string.gmatch(os.getenv("HDRS") or "", "[^|]+") do
  local k, v = string.match(pair, "^%s*([^:]+):%s*(.-)%s*$")
  if k then wrk.headers[k] = v end
end

local threads = {}
function setup(thread) table.insert(threads, thread) end

local nthreads = tonumber(os.getenv("WRK_THREADS") or "1")
local cap = tonumber(os.getenv("MAX_REQ") or "1000000000")
max_req, count, bad = 0, 0, 0
function init(args) max_req = math.floor(cap / nthreads) end

function response(status, headers, body)
  count = count + 1
  if status ~= 200 then
    bad = bad + 1
    if bad == 1 then io.stderr:write("first non-200: " .. status .. " " .. string.sub(body or "", 1, 300) .. "\n") end
  end
  if count >= max_req then wrk.thread:stop() end
end

function done(summary, latency, requests)
  local non200 = 0
  for _, t in ipairs(threads) do non200 = non200 + (t:get("bad") or 0) end
  local e = summary.errors
  local d = summary.duration / 1e6
  io.write(string.format(
    '{"requests":%d,"duration_s":%.3f,"rps":%.1f,"p50_ms":%.3f,"p90_ms":%.3f,"p99_ms":%.3f,"max_ms":%.3f,' ..
    '"errors":%d,"non200":%d,"capped":%s}\n',
    summary.requests, d, summary.requests / d, latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000,
    e.connect + e.read + e.write + e.timeout, non200, tostring(summary.requests >= cap - nthreads)))
end
