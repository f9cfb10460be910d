-- wrk script: every request POSTs a new JSON body with its own reference and its own Idempotency-Key (what
-- partner systems are told to send). The body comes from BENCH_BODY, where REF stands for the reference;
-- BENCH_AUTH is the Authorization header (may be empty); BENCH_RUN keeps references unique across runs.
local body = os.getenv("BENCH_BODY")
local auth = os.getenv("BENCH_AUTH") or ""
local run = os.getenv("BENCH_RUN") or "run"
local threads = {}
local counter = 0

function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end

function request()
  counter = counter + 1
  local ref = run .. "-" .. tid .. "-" .. counter
  local headers = { ["Content-Type"] = "application/json", ["Idempotency-Key"] = ref }
  if auth ~= "" then headers["Authorization"] = auth end
  return wrk.format("POST", nil, headers, (string.gsub(body, "REF", ref)))
end
