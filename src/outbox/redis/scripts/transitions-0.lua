--[[
  Status changes of deliveries, each atomically: a record changes only from an
  allowed status (and, when given, at the expected attempt); the per-status
  counters, the notification's count of recipients not final yet, and what
  consumers hear of it (a fact, an event per consumer) change with it in the
  same script. The changes of one event-loop turn come in one call
  (write-batch.ts): one round trip, one fsync of the append-only file.

  ARGV[1]: {"prefix", "final": [statuses]}
  ARGV[2…]: one change each (deliveries.ts, Change):
    {"notificationId", "position", "from": [statuses], "patch": {…}, "attempts", "unconfirmed",
     "expectedAttempts" (or null), "delayedSince" (ISO, or null: for a delay report, an earlier
     delay report after this makes it change nothing), "at",
     "fact" (null, or {"status", "events": [{"consumer", "key", "id", "due"}]})}
  Returns {changed (1 or 0), status found} per change, flattened.
]]
local header = cjson.decode(ARGV[1])
local prefix = header.prefix
local final = {}
for _, status in ipairs(header.final) do final[status] = true end

local function allowed(statuses, status)
  for _, s in ipairs(statuses) do
    if s == status then return true end
  end
  return false
end

local function apply(c)
  local deliveries = prefix .. ':n:' .. c.notificationId .. ':d'
  local json = redis.call('HGET', deliveries, c.position)
  if not json then return 0, '' end
  local d = cjson.decode(json)
  local from = d.status
  if not allowed(c.from, from) then return 0, from end
  if c.expectedAttempts ~= cjson.null and tonumber(d.attempts) ~= c.expectedAttempts then return 0, from end
  if c.delayedSince ~= cjson.null and type(d.report) == 'table' and d.report.action == 'delayed'
    and type(d.report.receivedAt) == 'string' and d.report.receivedAt > c.delayedSince then
    return 0, from
  end
  for k, v in pairs(c.patch) do d[k] = v end
  d.attempts = (tonumber(d.attempts) or 0) + c.attempts
  d.unconfirmed = (tonumber(d.unconfirmed) or 0) + c.unconfirmed
  redis.call('HSET', deliveries, c.position, cjson.encode(d))
  local meta = prefix .. ':n:' .. c.notificationId
  if d.status ~= from then
    redis.call('HINCRBY', prefix .. ':counts', from, -1)
    redis.call('HINCRBY', prefix .. ':counts', d.status, 1)
  end
  -- RETENTION counts from the last recipient becoming final, or from a later change (a report).
  if final[d.status] and not final[from] then
    if redis.call('HINCRBY', meta, 'open', -1) <= 0 then redis.call('ZADD', prefix .. ':final', c.at, c.notificationId) end
  elseif final[from] then
    redis.call('ZADD', prefix .. ':final', 'XX', 'GT', c.at, c.notificationId)
  end
  if c.fact ~= cjson.null then
    local fact = {
      notificationId = c.notificationId, position = tonumber(c.position), recipient = d.email, status = c.fact.status,
      messageId = d.messageId, lastReply = d.lastReply, report = d.report or cjson.null, at = c.at,
    }
    local seq = redis.call('INCR', prefix .. ':fact-seq')
    redis.call('HSET', prefix .. ':n:' .. c.notificationId .. ':f', seq, cjson.encode(fact))
    for _, e in ipairs(c.fact.events) do
      redis.call('RPUSH', prefix .. ':ev:' .. e.consumer .. ':' .. e.key, cjson.encode({id = e.id, seq = seq, nid = c.notificationId}))
      redis.call('ZADD', prefix .. ':ev-due:' .. e.consumer, 'NX', e.due, e.key)
      redis.call('SADD', prefix .. ':n:' .. c.notificationId .. ':ev', e.consumer .. '\t' .. e.key)
    end
  end
  return 1, from
end

local out = {}
for i = 2, #ARGV do
  local changed, from = apply(cjson.decode(ARGV[i]))
  out[#out + 1] = changed
  out[#out + 1] = from
end
return out
