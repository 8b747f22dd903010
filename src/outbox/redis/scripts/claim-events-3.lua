--[[
  Leases a consumer's events of one key when the key is due: its oldest event,
  or every event stored so far. The key is due again when the lease ends
  (a consumer that died: the same events, the same ids).

  KEYS[1]: the consumer's due keys (zset), KEYS[2]: the key's events (list),
  KEYS[3]: the consumer's attempts (hash).
  ARGV[1]: {"prefix", "key", "now", "leaseUntil", "take": "oldest" | "all"}
  Returns {attempt, entry1, fact1, entry2, fact2, …}, or nil when the key is not due.
]]
local a = cjson.decode(ARGV[1])
local score = redis.call('ZSCORE', KEYS[1], a.key)
if not score or tonumber(score) > a.now then return nil end
local entries = redis.call('LRANGE', KEYS[2], 0, a.take == 'oldest' and 0 or -1)
if #entries == 0 then
  redis.call('ZREM', KEYS[1], a.key)
  return nil
end
redis.call('ZADD', KEYS[1], a.leaseUntil, a.key)
local out = {redis.call('HINCRBY', KEYS[3], a.key, 1)}
for _, entry in ipairs(entries) do
  local e = cjson.decode(entry)
  out[#out + 1] = entry
  out[#out + 1] = redis.call('HGET', a.prefix .. ':n:' .. e.nid .. ':f', e.seq) or ''
end
return out
