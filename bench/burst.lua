-- wrk script for a burst of exactly BENCH_COUNT POSTs per thread (P2): each with its own reference and
-- Idempotency-Key, like post.lua. When a thread has its answers it stops; a connection that is still asked for
-- a request by then sends a harmless GET /healthz. Every answer is written as "status id seconds" (CLOCK_MONOTONIC,
-- the clock of Python's time.perf_counter on Linux) to BENCH_OUT-<thread>, so the bench can time each agreement
-- from its answer to its funding update.
local ffi = require("ffi")
ffi.cdef [[
typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
int clock_gettime(int clk_id, bench_timespec *tp);
]]
local CLOCK_MONOTONIC = 1
local ts = ffi.new("bench_timespec")
local function now()
  ffi.C.clock_gettime(CLOCK_MONOTONIC, ts)
  return tonumber(ts.tv_sec) + tonumber(ts.tv_nsec) / 1e9
end

local body = os.getenv("BENCH_BODY")
local auth = os.getenv("BENCH_AUTH") or ""
local run = os.getenv("BENCH_RUN") or "run"
local count = tonumber(os.getenv("BENCH_COUNT"))
local out_prefix = os.getenv("BENCH_OUT")
local threads = {}
local sent, answered, out = 0, 0, nil
local checked = false

function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  out = io.open(out_prefix .. "-" .. tid, "w")
  out:setvbuf("line") -- whole lines only, for the bench reading them meanwhile
end

function request()
  if tid == 1 and not checked then
    -- wrk calls request() once in its first thread to check the script; that request is never sent
    checked = true
    return wrk.format("GET", "/healthz")
  end
  if sent >= count then
    return wrk.format("GET", "/healthz")
  end
  sent = sent + 1
  local ref = run .. "-" .. tid .. "-" .. sent
  -- webhook-id: P5's wrk client posts to the bench receiver, which tells webhooks apart by it
  local headers = { ["Content-Type"] = "application/json", ["Idempotency-Key"] = ref, ["webhook-id"] = "msg_" .. ref }
  if auth ~= "" then headers["Authorization"] = auth end
  return wrk.format("POST", nil, headers, (string.gsub(body, "REF", ref)))
end

function response(status, headers, body)
  local id = string.match(body, '^{"id":"([%x-]+)"')
  if status ~= 200 or id ~= nil then -- an answer to a POST (a health check answers 200 without an id)
    answered = answered + 1
    out:write(string.format("%d %s %.6f\n", status, id or "-", now()))
    if answered >= count then
      out:close()
      wrk.thread:stop()
    end
  end
end
