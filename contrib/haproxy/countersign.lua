-- Countersign forward-auth for HAProxy (2.6 or later, built with Lua: Debian's and most others are).
--
-- HAProxy has no built-in forward-auth. This action asks Countersign's GET /gateway/auth, for every
-- request it runs on, whether the request may pass, and leaves the answer in transaction variables
-- for the configuration to act on (docs/gateway.md, "HAProxy", has the whole frontend):
--
--   global
--       lua-load /etc/haproxy/countersign.lua
--   frontend wiki
--       http-request lua.countersign-auth http://10.0.0.10:8443
--
-- The argument is Countersign's base URL (http or https; HAProxy's own DNS resolver looks up a name,
-- /etc/hosts is not read: an address always works). TIMEOUT_MS below bounds each attempt; HAProxy
-- 2.6's HTTP client tries up to four times, so a silent Countersign holds a request about
-- 4 x TIMEOUT_MS and a refused connection about 3 s before the answer "no decision". Keep
-- 4 x TIMEOUT_MS under tune.lua.session-timeout (4 s by default).
--
-- Countersign is sent only what it decides on:
--   X-Original-URL   <scheme>://<Host header><path and query as received>; https when the
--                    connection to HAProxy is TLS (ssl_fc)
--   X-Forwarded-For  the client's address (src) and nothing a client wrote
--   Cookie           the request's own cookies (the gateway session)
-- HAProxy must be listed in Countersign's gateway.proxies (the address it connects from).
--
-- Variables set on every run:
--   txn.countersign_status    200 pass, 401 sign in first, 403 denied: Countersign's answer;
--                             500 no usable answer: Countersign unreachable or silent (HAProxy's
--                             client answers 503 or 504 itself), another status, a malformed header;
--                             0 no answer at all (the script stopped on an error)
--   txn.countersign_location  with 401: the sign-in address to redirect the browser to; else empty
--   txn.countersign_user, txn.countersign_email, txn.countersign_name, txn.countersign_groups
--                             with 200: the identity (empty when unknown or on a public path)
--
-- Fail closed: the configuration passes a request only when the status is exactly 200. Anything
-- that goes wrong here, including an error that stops this script half-way, leaves 0 or 500.

-- Milliseconds per attempt. /gateway/auth answers from two indexed reads: 500 ms is generous.
local TIMEOUT_MS = 500

local IDENTITY = {
  { header = "remote-user", var = "txn.countersign_user" },
  { header = "remote-email", var = "txn.countersign_email" },
  { header = "remote-name", var = "txn.countersign_name" },
  { header = "remote-groups", var = "txn.countersign_groups" },
}

-- Only printable ASCII (space to ~) goes into a header: never CR, LF or other control bytes.
local function printable(s)
  return type(s) == "string" and not s:find("[^\32-\126]")
end

-- The single value of a response header ("" when absent); nil when it is sent more than once or
-- is not printable ASCII. HAProxy gives header names in lower case, values in a table from 0.
local function single(headers, name)
  local values = headers[name]
  if values == nil then return "" end
  local count, value = 0, nil
  for _, v in pairs(values) do
    count = count + 1
    value = v
  end
  if count == 0 then return "" end
  if count > 1 or not printable(value) then return nil end
  return value
end

local function clear(txn)
  txn:set_var("txn.countersign_location", "")
  for _, h in ipairs(IDENTITY) do txn:set_var(h.var, "") end
end

local function decide(txn, base)
  -- Fail closed from the first line: if anything below throws, the request is denied.
  txn:set_var("txn.countersign_status", 0)
  clear(txn)

  if type(base) ~= "string" or not base:match("^https?://[^/]+") then
    txn:Warning("countersign-auth: the argument must be Countersign's http(s):// base URL")
    return
  end

  local ssl = txn.f:ssl_fc()
  local scheme = (ssl == true or ssl == 1) and "https" or "http"
  local original = scheme .. "://" .. (txn.sf:req_hdr("host") or "") .. (txn.sf:pathq() or "")
  local client = txn.sf:src() or ""
  -- HAProxy refuses control bytes in request lines and headers; check again before sending them on.
  if not printable(original) or not printable(client) or client == "" then
    txn:set_var("txn.countersign_status", 500)
    return
  end

  local headers = {
    ["X-Original-URL"] = { original },
    ["X-Forwarded-For"] = { client },
  }
  -- HTTP/2 clients may send their cookies as several headers: one Cookie header, as in HTTP/1.1.
  local cookies = txn.http:req_get_headers()["cookie"]
  if cookies ~= nil then
    local parts = {}
    for i = 0, #cookies do
      if cookies[i] ~= nil then parts[#parts + 1] = cookies[i] end
    end
    local cookie = table.concat(parts, "; ")
    if not printable(cookie) then
      txn:set_var("txn.countersign_status", 500)
      return
    end
    if cookie ~= "" then headers["Cookie"] = { cookie } end
  end

  local res = core.httpclient():get({
    url = base:gsub("/+$", "") .. "/gateway/auth",
    headers = headers,
    timeout = TIMEOUT_MS,
  })
  if res == nil or res.status == nil then
    txn:Warning("countersign-auth: no answer from " .. base)
    return
  end

  local status = tonumber(res.status)
  local answer = res.headers or {}
  if status == 200 then
    local identity = {}
    for _, h in ipairs(IDENTITY) do
      identity[h.var] = single(answer, h.header)
      if identity[h.var] == nil then
        txn:Warning("countersign-auth: unusable " .. h.header .. " header from " .. base)
        txn:set_var("txn.countersign_status", 500)
        return
      end
    end
    for var, value in pairs(identity) do txn:set_var(var, value) end
    txn:set_var("txn.countersign_status", 200)
  elseif status == 401 then
    local location = single(answer, "location")
    if location == nil or not location:match("^https?://") then
      txn:Warning("countersign-auth: 401 without a usable Location from " .. base)
      txn:set_var("txn.countersign_status", 500)
      return
    end
    txn:set_var("txn.countersign_location", location)
    txn:set_var("txn.countersign_status", 401)
  elseif status == 403 then
    txn:set_var("txn.countersign_status", 403)
  else
    -- Includes HAProxy's own 503 (Countersign unreachable) and 504 (no answer in time).
    txn:Warning("countersign-auth: status " .. tostring(status) .. " from " .. base)
    txn:set_var("txn.countersign_status", 500)
  end
end

core.register_action("countersign-auth", { "http-req" }, decide, 1)
