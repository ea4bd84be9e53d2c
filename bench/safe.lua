-- bench/safe.lua: the wrk load of the Safe Server benchmark (driven by bench/run; see
-- docs/performance.md). One script for every scenario, chosen by environment variables:
--
--   BENCH_MODE       put | get | mix | load
--                      put:  PUT a random id of the set, body of BENCH_SIZE bytes
--                      get:  GET a random id of the set
--                      mix:  GET, or PUT with probability BENCH_PUT_PERCENT / 100
--                      load: PUT every id of the set once (threads split the set), then
--                            print "LOADER_DONE <thread> <error answers> <lost>" per thread
--                            and stop; bench/run interrupts wrk once every thread has printed
--   BENCH_SIZE       body size in bytes (>= 64)
--   BENCH_FIRST      first id counter of the set (default 0)
--   BENCH_IDS        number of ids in the set: counters BENCH_FIRST .. BENCH_FIRST+BENCH_IDS-1
--   BENCH_SEED_FILE  file of BENCH_SIZE random bytes (put, mix, load)
--   BENCH_THREADS    wrk's -t (load mode splits the set by it)
--   BENCH_PUT_PERCENT  mix only (default 10)
--
-- Ids and bodies are deterministic so that bench/run can check what a server returns:
--   id(n)   = 64 lowercase hex: splitmix64(4n) .. splitmix64(4n+1) .. splitmix64(4n+2) ..
--             splitmix64(4n+3), each as 16 hex digits (spread like real ids, unlike a counter)
--   body(n) = id(n) as 64 ASCII bytes, then bytes 64.. of the seed file
-- bench/run computes the same in Python (SafeId, Body).
--
-- The summary is printed by done() as one line "BENCH_RESULT {json}" (latencies in µs).
-- Errors: answers with a status >= 400 and socket errors (connect, read, write, timeout), as
-- wrk counts them. Answers are not read by Lua in the measured modes (a response() hook makes
-- wrk copy every body), so bodies are checked by bench/run on a sample after each run.

local mode = os.getenv("BENCH_MODE") or "get"
local size = tonumber(os.getenv("BENCH_SIZE") or "65536")
local first = tonumber(os.getenv("BENCH_FIRST") or "0")
local ids = tonumber(os.getenv("BENCH_IDS") or "10000")
local seed_file = os.getenv("BENCH_SEED_FILE")
local threads = tonumber(os.getenv("BENCH_THREADS") or "1")
local put_percent = tonumber(os.getenv("BENCH_PUT_PERCENT") or "10")

-- Set by setup() in each thread's Lua state before the thread starts (nil in wrk's main state).
thread_index = nil

local function SplitMix64(x)
  local z = x + 0x9E3779B97F4A7C15ULL
  z = bit.bxor(z, bit.rshift(z, 30)) * 0xBF58476D1CE4E5B9ULL
  z = bit.bxor(z, bit.rshift(z, 27)) * 0x94D049BB133111EBULL
  return bit.bxor(z, bit.rshift(z, 31))
end

local function SafeId(n)
  local base = 4ULL * n
  return bit.tohex(SplitMix64(base), 16) .. bit.tohex(SplitMix64(base + 1), 16) ..
         bit.tohex(SplitMix64(base + 2), 16) .. bit.tohex(SplitMix64(base + 3), 16)
end

local ready = false
local host
local body_rest      -- seed bytes 65.. (Lua strings count from 1)
local get_requests   -- precomputed GET requests for small sets, indexed 1..ids
local config_request

local function GetRequest(n)
  return "GET /backups/" .. SafeId(n) .. " HTTP/1.1\r\nHost: " .. host .. "\r\n\r\n"
end

local function PutRequest(n)
  local id = SafeId(n)
  -- One concatenation: the request is built in a single pass, no intermediate body string.
  return "PUT /backups/" .. id .. " HTTP/1.1\r\nHost: " .. host ..
         "\r\nContent-Type: application/octet-stream\r\nContent-Length: " .. size ..
         "\r\n\r\n" .. id .. body_rest
end

local function Prepare()
  host = wrk.headers["Host"] or (wrk.host .. ":" .. wrk.port)
  config_request = "GET /config HTTP/1.1\r\nHost: " .. host .. "\r\n\r\n"
  if mode ~= "get" then
    local f = assert(io.open(seed_file, "rb"), "BENCH_SEED_FILE unreadable")
    local seed = f:read("*a")
    f:close()
    assert(#seed == size, "seed file size differs from BENCH_SIZE")
    body_rest = seed:sub(65)
  end
  if (mode == "get" or mode == "mix") and ids <= 100000 then
    get_requests = {}
    for i = 1, ids do get_requests[i] = GetRequest(first + i - 1) end
  end
  math.randomseed(7919 * (thread_index + 1))
  ready = true
end

local function RandomId()
  return first + math.random(0, ids - 1)
end

local function RandomGet()
  if get_requests then return get_requests[math.random(1, ids)] end
  return GetRequest(RandomId())
end

-- load mode: this thread PUTs counters first + thread_index + k * threads, k = 0 .. share-1.
-- A PUT whose connection breaks is never answered (wrk does not resend it): the thread gives up
-- waiting kLoadQuietSeconds after its last PUT answer and reports it as lost; bench/run then
-- finds and stores the missing ids itself.
local ffi = require("ffi")
ffi.cdef[[
  struct bench_timespec { long tv_sec; long tv_nsec; };
  int clock_gettime(int clock_id, struct bench_timespec* tp);
]]
local kClockMonotonic = 1
local kLoadQuietSeconds = 3
local timespec = ffi.new("struct bench_timespec")
local function Now()
  ffi.C.clock_gettime(kClockMonotonic, timespec)
  return tonumber(timespec.tv_sec) + tonumber(timespec.tv_nsec) * 1e-9
end

local load_next = 0  -- k of the next PUT to send
local load_share = 0
local load_answered = 0
local load_errors = 0
local load_reported = false
local load_last_progress = 0
local load_first_call = true

local function CheckLoadDone()
  if load_reported or load_next < load_share then return end
  local lost = load_share - load_answered
  if lost > 0 and Now() - load_last_progress < kLoadQuietSeconds then return end
  load_reported = true
  io.stdout:write(string.format("LOADER_DONE %d %d %d\n", thread_index, load_errors, lost))
  io.stdout:flush()
  wrk.thread:stop()
end

local function LoadRequest()
  if load_first_call then
    -- In thread 0 wrk's first call is its check of the script, whose request is never sent:
    -- answer every thread's first call with the filler so that no PUT is lost.
    load_first_call = false
    return config_request
  end
  if load_next < load_share then
    local n = first + thread_index + load_next * threads
    load_next = load_next + 1
    load_last_progress = Now()
    return PutRequest(n)
  end
  -- Every id of this share is sent; keep the connections busy with something cheap until the
  -- last answers are in.
  CheckLoadDone()
  return config_request
end

local setup_count = 0
function setup(thread)
  thread:set("thread_index", setup_count)
  setup_count = setup_count + 1
end

function request()
  if thread_index == nil then
    return wrk.format("GET", "/config")
  end
  if not ready then
    Prepare()
    if mode == "load" then
      load_share = math.floor((ids - thread_index + threads - 1) / threads)
      if load_share < 0 then load_share = 0 end
      load_last_progress = Now()
    end
  end
  if mode == "get" then
    return RandomGet()
  elseif mode == "put" then
    return PutRequest(RandomId())
  elseif mode == "mix" then
    if math.random() * 100 < put_percent then return PutRequest(RandomId()) end
    return RandomGet()
  else
    return LoadRequest()
  end
end

if mode == "load" then
  -- Only the loader reads answers: it must know when its last PUT is answered.
  function response(status, headers, body)
    if status == 200 then return end  -- a GET /config filler
    load_answered = load_answered + 1
    load_last_progress = Now()
    if status ~= 201 and status ~= 204 then load_errors = load_errors + 1 end
    CheckLoadDone()
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.stdout:write(string.format(
      'BENCH_RESULT {"duration_us": %d, "requests": %d, "bytes": %d, ' ..
      '"err_connect": %d, "err_read": %d, "err_write": %d, "err_status": %d, ' ..
      '"err_timeout": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d, ' ..
      '"mean_us": %.1f}\n',
      summary.duration, summary.requests, summary.bytes, e.connect, e.read, e.write, e.status,
      e.timeout, latency:percentile(50), latency:percentile(90), latency:percentile(99),
      latency.max, latency.mean))
  io.stdout:flush()
end
