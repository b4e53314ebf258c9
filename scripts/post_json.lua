-- wrk script: POST the JSON body of $BODY to the URL of the command line (headers via -H) and
-- count the statuses; prints "STATUS ok=<n> other=<codes>" at the end.
wrk.method = "POST"
wrk.body = os.getenv("BODY") or "{}"
wrk.headers["Content-Type"] = "application/json"

local threads = {}
function setup(thread) table.insert(threads, thread) end
function init() statuses = {} end
function response(status) statuses[status] = (statuses[status] or 0) + 1 end
function done()
   local all = {}
   for _, t in ipairs(threads) do
      for code, n in pairs(t:get("statuses") or {}) do all[code] = (all[code] or 0) + n end
   end
   local parts = {}
   for code, n in pairs(all) do table.insert(parts, code .. "=" .. n) end
   table.sort(parts)
   io.write("STATUS " .. table.concat(parts, ",") .. "\n")
end
