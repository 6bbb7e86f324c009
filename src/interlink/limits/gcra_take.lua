-- Admit `amount` units against a GCRA bucket, or say how long to wait. Atomic: one script call.
-- The clock is Redis TIME, never the caller's, so replicas with skewed clocks agree.
-- Numbers are stored with %.17g because Lua's default number-to-string keeps 14 digits, too few
-- for microsecond timestamps.
--
-- KEYS[1]  bucket: a string holding the theoretical arrival time (TAT), microseconds
-- ARGV[1]  interval: microseconds of the window one unit costs (window / rate)
-- ARGV[2]  window: microseconds (the burst allowance: one whole window)
-- ARGV[3]  amount: units to take
-- Returns {1, 0} when admitted, {0, wait_us} when refused (nothing is charged then).
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local amount = tonumber(ARGV[3])

local tat = tonumber(redis.call('GET', KEYS[1])) or now
if tat < now then
  tat = now
end
local new_tat = tat + amount * interval
local wait = new_tat - window - now
-- 1 us of tolerance: float sums of window/rate can overshoot the window by a rounding error.
if wait > 1 then
  return {0, math.ceil(wait)}
end
-- The key lives exactly as long as it holds information: once TAT passes, the bucket is full.
redis.call('SET', KEYS[1], string.format('%.17g', new_tat), 'PX', math.ceil((new_tat - now) / 1000))
return {1, 0}
