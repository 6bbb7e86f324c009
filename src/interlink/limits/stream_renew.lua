-- Extend the lease of one open stream (the holder's heartbeat). Only a stream still present is
-- renewed: a renewal racing its own release must not bring the released slot back.
--
-- KEYS[1]  sorted set of open streams for one key
-- ARGV[1]  stream id
-- ARGV[2]  lease: microseconds
-- Returns 1 when renewed, 0 when the stream is gone (released, or its lease already expired).
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then
  return 0
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local lease = tonumber(ARGV[2])
redis.call('ZADD', KEYS[1], 'XX', string.format('%.17g', now + lease), ARGV[1])
local lease_ms = math.ceil(lease / 1000)
if redis.call('PTTL', KEYS[1]) < lease_ms then
  redis.call('PEXPIRE', KEYS[1], lease_ms)
end
return 1
