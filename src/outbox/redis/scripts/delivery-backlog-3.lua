--[[
  Deliveries whose time to be sent has come, for /metrics: the recipients of
  the jobs waiting to be taken (BullMQ's prioritized set and wait list, and
  delayed jobs, retries, whose time has come but which no worker has moved
  yet), and when the longest-waiting of those jobs became due. A job of
  several recipients counts all it names, some of which another instance may
  have sent before handing it back: an estimate from above. Visits at most
  ARGV.limit jobs of each kind; beyond them each job counts as one recipient.

  KEYS[1]: BullMQ's prioritized set; KEYS[2]: its wait list; KEYS[3]: its
  delayed set (score: due time in ms times 0x1000, plus a counter below it).
  ARGV[1]: {"jobPrefix" (BullMQ's key prefix of a job), "limit", "now"}
  Returns {due, oldest due time in ms or false}.
]]
local a = cjson.decode(ARGV[1])
local due, oldest = 0, false
local function count(id, dueAt)
  local job = redis.call('HMGET', a.jobPrefix .. id, 'data', 'timestamp', 'delay')
  if not job[1] then return end
  local data = cjson.decode(job[1])
  if data.last then due = due + tonumber(data.last) - tonumber(data.position) + 1 else due = due + 1 end
  dueAt = dueAt or (tonumber(job[2] or 0) + tonumber(job[3] or 0))
  if not oldest or dueAt < oldest then oldest = dueAt end
end

local ready = redis.call('ZRANGE', KEYS[1], 0, a.limit - 1)
due = due + redis.call('ZCARD', KEYS[1]) - #ready
for _, id in ipairs(ready) do count(id, nil) end
local waiting = redis.call('LRANGE', KEYS[2], 0, a.limit - 1)
due = due + redis.call('LLEN', KEYS[2]) - #waiting
for _, id in ipairs(waiting) do count(id, nil) end
local latest = (a.now + 1) * 0x1000 - 1
local delayed = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', latest, 'WITHSCORES', 'LIMIT', 0, a.limit)
due = due + redis.call('ZCOUNT', KEYS[3], '-inf', latest) - #delayed / 2
for i = 1, #delayed, 2 do count(delayed[i], math.floor(tonumber(delayed[i + 1]) / 0x1000)) end
return {due, oldest}
