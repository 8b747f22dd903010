--[[
  Deliveries, each with every delivery sharing its order key, in one round
  trip: what the delivery rules weigh (policy.arbitrate).

  ARGV[1]: {"prefix", "deliveries": [[notificationId, position], …]}
  Returns one array per delivery: {record, member1, record1, member2, record2, …},
  or {} for a delivery not stored.
]]
local a = cjson.decode(ARGV[1])
local out = {}
for _, wanted in ipairs(a.deliveries) do
  local context = {}
  local json = redis.call('HGET', a.prefix .. ':n:' .. wanted[1] .. ':d', wanted[2])
  if json then
    context[1] = json
    for _, member in ipairs(redis.call('ZRANGE', a.prefix .. ':order:' .. cjson.decode(json).orderKey, 0, -1)) do
      local id, position = string.match(member, '^[^|]+|([^|]+)|(.+)$')
      context[#context + 1] = member
      context[#context + 1] = redis.call('HGET', a.prefix .. ':n:' .. id .. ':d', position) or ''
    end
  end
  out[#out + 1] = context
end
return out
