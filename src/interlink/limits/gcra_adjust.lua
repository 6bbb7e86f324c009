-- Charge (delta > 0) or refund (delta < 0) units on a GCRA bucket without an admission check:
-- the settlement of a token reservation once the real count is known. Redis TIME is the clock.
--
-- KEYS[1]  bucket: a string holding the theoretical arrival time (TAT), microseconds
-- ARGV[1]  interval: microseconds of the window one unit costs (window / rate)
-- ARGV[2]  delta: units to add (positive) or give back (negative)
-- Returns 1 when the bucket still holds a debt, 0 when it is full again (key deleted).
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local delta = tonumber(ARGV[2])

local tat = tonumber(redis.call('GET', KEYS[1])) or now
local new_tat
if delta > 0 then
  -- A charge on a full bucket starts from now, not from a TAT in the past.
  new_tat = math.max(tat, now) + delta * interval
else
  -- A refund cannot fill the bucket beyond full: anything below now is simply full.
  new_tat = tat + delta * interval
end
if new_tat <= now then
  redis.call('DEL', KEYS[1])
  return 0
end
redis.call('SET', KEYS[1], string.format('%.17g', new_tat), 'PX', math.ceil((new_tat - now) / 1000))
return 1
