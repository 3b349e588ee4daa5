-- Appended to wrk_summary.lua for the cache-miss rows: `wrk ... -- <prefix>` makes every request
-- ask for <prefix><thread>-<n>, a path nobody asked for before.

local prefix = "/small/"
local counter = 0
local next_id = 0

function setup(thread)
  thread:set("tid", next_id)
  next_id = next_id + 1
end

function init(args)
  if args[1] ~= nil then prefix = args[1] end
end

function request()
  counter = counter + 1
  return wrk.format("GET", prefix .. tostring(tid) .. "-" .. tostring(counter))
end
