--[[
  A consumer is done with a batch: its events (those up to its sequence
  number) are dropped, and the key's next ones are due now. A repeated answer
  finds nothing to drop and changes nothing (nor the lease of a later batch).

  KEYS as claim-events-3.lua. ARGV[1]: {"key", "through", "now"}
]]
local a = cjson.decode(ARGV[1])
local dropped = 0
while true do
  local head = redis.call('LINDEX', KEYS[2], 0)
  if not head or tonumber(cjson.decode(head).seq) > a.through then break end
  redis.call('LPOP', KEYS[2])
  dropped = dropped + 1
end
if dropped == 0 then return 0 end
redis.call('HDEL', KEYS[3], a.key)
if redis.call('LLEN', KEYS[2]) == 0 then
  redis.call('ZREM', KEYS[1], a.key)
else
  redis.call('ZADD', KEYS[1], a.now, a.key)
end
return dropped
