-- wrk script of the bench (molecule/bench): builds each request, checks each answer.
--
-- wrk -t NTHREADS -s bench.lua URL -- MODE EXPECT BASE NTHREADS HOSTFILE HOSTHEADER [close]
--   MODE    basic: /nic/update?hostname=H&myip=<H's address>, HTTP Basic auth
--           token: /u/<H's token>?myip=<H's address>
--           seed:  /<H's token>, the seed design's script (it takes REMOTE_ADDR)
--           good:  /nic/update with Basic auth and a new address on every call
--   EXPECT  the first word every answer must start with (nochg, good, SUCCESS)
--   BASE    the first request number; request n is for host n % #hosts, and in
--           mode good sets the address 10.0.0.0 + n, so every address is new and
--           names its host
--   NTHREADS wrk's -t, so that the threads' request numbers interleave
--   HOSTFILE one line per host: fqdn, Basic credentials (base64), token, address
--   close   send Connection: close: a new TCP connection and TLS handshake per call
--
-- done() prints one line "BENCH {json}" for the driver (bench.py).

local threads = {}
local next_id = 0

function setup(thread)
   thread:set("id", next_id)
   next_id = next_id + 1
   table.insert(threads, thread)
end

function init(args)
   mode, expect, base, nthreads = args[1], args[2], tonumber(args[3]), tonumber(args[4])
   local hostfile, hostheader, close = args[5], args[6], args[7] == "close"
   hosts = {}
   for line in io.lines(hostfile) do
      local fqdn, auth, token, address = line:match("^(%S+) (%S+) (%S+) (%S+)$")
      table.insert(hosts, {fqdn = fqdn, auth = "Basic " .. auth, token = token, address = address})
   end
   headers = {["Host"] = hostheader, ["User-Agent"] = "selfhosted-dyndns-bench/1"}
   if close then
      headers["Connection"] = "close"
   end
   sent, bad, non2xx, sample = 0, 0, 0, ""
end

local function address(n)
   return string.format("10.%d.%d.%d", math.floor(n / 65536) % 256, math.floor(n / 256) % 256, n % 256)
end

function request()
   local n = base + sent * nthreads + id
   sent = sent + 1
   local host = hosts[(n % #hosts) + 1]
   local path
   local h = {}
   for k, v in pairs(headers) do
      h[k] = v
   end
   if mode == "basic" then
      path = "/nic/update?hostname=" .. host.fqdn .. "&myip=" .. host.address
      h["Authorization"] = host.auth
   elseif mode == "good" then
      path = "/nic/update?hostname=" .. host.fqdn .. "&myip=" .. address(n)
      h["Authorization"] = host.auth
   elseif mode == "token" then
      path = "/u/" .. host.token .. "?myip=" .. host.address
   elseif mode == "seed" then
      path = "/" .. host.token
   else
      error("unknown mode " .. mode)
   end
   return wrk.format("GET", path, h)
end

function response(status, headers, body)
   if status < 200 or status > 299 then
      non2xx = non2xx + 1
   elseif body:sub(1, #expect + 1) ~= expect .. " " then
      bad = bad + 1
   else
      return
   end
   if sample == "" then
      -- Answers hold no secret; keep the first wrong one, printable characters only.
      sample = status .. " " .. body:sub(1, 60):gsub("[^%w%.%-:, ]", "?")
   end
end

function done(summary, latency, requests)
   local bad_total, non2xx_total, next_base, first_sample = 0, 0, 0, ""
   for _, thread in ipairs(threads) do
      bad_total = bad_total + thread:get("bad")
      non2xx_total = non2xx_total + thread:get("non2xx")
      local n = thread:get("base") + thread:get("sent") * thread:get("nthreads") + thread:get("id")
      if n > next_base then
         next_base = n
      end
      if first_sample == "" then
         first_sample = thread:get("sample")
      end
   end
   local e = summary.errors
   io.write(string.format(
      'BENCH {"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, "max_us": %d, '
         .. '"connect": %d, "read": %d, "write": %d, "timeout": %d, "status": %d, '
         .. '"bad": %d, "non2xx": %d, "next_base": %d, "sample": "%s"}\n',
      summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), latency.max,
      e.connect, e.read, e.write, e.timeout, e.status,
      bad_total, non2xx_total, next_base, first_sample))
end
