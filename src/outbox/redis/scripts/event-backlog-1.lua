--[[
  A consumer's waiting events, for /metrics: how many, and the id of the
  oldest (its UUIDv7 holds when it was made). Visits at most ARGV.limit keys,
  those due first; beyond them each key counts as one event (it holds one at
  least), so a larger backlog is reported as a lower bound, and Redis is never
  held for long by a scrape.

  KEYS[1]: the consumer's due keys (sorted set). ARGV[1]: {"prefix", "consumer", "limit"}
  Returns {waiting, oldest id or false}.
]]
local a = cjson.decode(ARGV[1])
local keys = redis.call('ZRANGE', KEYS[1], 0, a.limit - 1)
local waiting = redis.call('ZCARD', KEYS[1]) - #keys
local oldest = false
for _, key in ipairs(keys) do
  local list = a.prefix .. ':ev:' .. a.consumer .. ':' .. key
  waiting = waiting + redis.call('LLEN', list)
  local head = redis.call('LINDEX', list, 0)
  if head then
    local id = cjson.decode(head).id
    if not oldest or id < oldest then oldest = id end
  end
end
return {waiting, oldest}
