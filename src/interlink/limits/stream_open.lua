-- Take one concurrent-stream slot, or refuse when `limit` are already open.
-- Each open stream is a member of a sorted set scored by its lease expiry (Redis TIME, us).
-- The holder renews the lease while the stream runs (stream_renew.lua); a replica that crashes
-- stops renewing, so its slots expire by themselves instead of staying taken forever.
--
-- KEYS[1]  sorted set of open streams for one key
-- ARGV[1]  stream id (unique per stream)
-- ARGV[2]  limit
-- ARGV[3]  lease: microseconds
-- Returns {1, open_after} when admitted, {0, open_now} when refused.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local limit = tonumber(ARGV[2])
local lease = tonumber(ARGV[3])

redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', string.format('%.17g', now))
local open = redis.call('ZCARD', KEYS[1])
if open >= limit then
  return {0, open}
end
redis.call('ZADD', KEYS[1], string.format('%.17g', now + lease), ARGV[1])
-- The set expires with its latest lease, so an abandoned key never outlives its streams.
local lease_ms = math.ceil(lease / 1000)
if redis.call('PTTL', KEYS[1]) < lease_ms then
  redis.call('PEXPIRE', KEYS[1], lease_ms)
end
return {1, open + 1}
