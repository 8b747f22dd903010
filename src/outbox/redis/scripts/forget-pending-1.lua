--[[
  Deletes an idempotency key only while it still holds this request's pending
  marker (a request that failed to store lets the key go, not a later one's).

  KEYS[1]: the idempotency key. ARGV[1]: the marker.
]]
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
