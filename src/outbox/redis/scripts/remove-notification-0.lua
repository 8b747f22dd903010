--[[
  Removes a notification with everything stored of it: its meta and body, its
  deliveries (and their places in the order sets and the counters), its
  facts, its events for every consumer, its idempotency key. RETENTION and
  erasure (retention.ts).

  ARGV[1]: {"prefix", "id"}
  Returns nil when there is no such notification, else {consumer1, undelivered1, …}:
  the events no consumer had taken yet.
]]
local a = cjson.decode(ARGV[1])
local prefix, id = a.prefix, a.id
local meta = prefix .. ':n:' .. id
redis.call('ZREM', prefix .. ':final', id)
redis.call('ZREM', prefix .. ':expand', id)
local metaJson = redis.call('HGET', meta, 'meta')
if not metaJson then return nil end
local m = cjson.decode(metaJson)

local deliveries = redis.call('HGETALL', meta .. ':d')
for i = 2, #deliveries, 2 do
  local d = cjson.decode(deliveries[i])
  redis.call('ZREM', prefix .. ':order:' .. d.orderKey, d.orderMember)
  redis.call('HINCRBY', prefix .. ':counts', d.status, -1)
end

local undelivered = {}
for _, member in ipairs(redis.call('SMEMBERS', meta .. ':ev')) do
  local consumer, key = string.match(member, '^([^\t]+)\t(.+)$')
  local list = prefix .. ':ev:' .. consumer .. ':' .. key
  undelivered[consumer] = (undelivered[consumer] or 0) + redis.call('LLEN', list)
  redis.call('DEL', list)
  redis.call('ZREM', prefix .. ':ev-due:' .. consumer, key)
  redis.call('HDEL', prefix .. ':ev-attempts:' .. consumer, key)
end

if type(m.idempotencyKey) == 'string' then
  local idem = prefix .. ':idem:' .. m.idempotencyKey
  local held = redis.call('GET', idem)
  if held and string.find(held, id, 1, true) then redis.call('DEL', idem) end
end
redis.call('DEL', meta, meta .. ':d', meta .. ':f', meta .. ':ev')

local out = {}
for consumer, n in pairs(undelivered) do
  out[#out + 1] = consumer
  out[#out + 1] = n
end
return out
