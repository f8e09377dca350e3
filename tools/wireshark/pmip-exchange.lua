-- Wireshark dissector for pmip's subnet map exchange between access points
-- and authoritative access points (UDP 4341), and for the AAP's home agent
-- liveness probe (a Mobile IP registration from UDP 4342 to port 434).
-- The format is docs/subnet-map-exchange.md; crates/wire/src/subnet_exchange.rs
-- is the reference implementation.
--
--   wireshark -X lua_script:tools/wireshark/pmip-exchange.lua capture.pcap
--   tshark -X lua_script:tools/wireshark/pmip-exchange.lua -r capture.pcap -V
--   tshark ... -o 'pmip.key:ascii campus-aap'   (the `ip proxy-mobile aap key` line)
--
-- Or copy it into Wireshark's personal Lua plugins folder. Display filter
-- `pmip`; `pmip.malformed` and `pmip.hmac.bad` find the datagrams a device
-- would drop.
--
-- Written for Lua 5.2 (Wireshark 3.x/4.0) and 5.3+ (Wireshark 4.2 on):
-- bit operations go through bit32 where it exists, native operators otherwise.

local PORT = 4341
local PROBE_PORT = 4342
local MIP_PORT = 434
local HEADER_LEN = 28
local MAC_LEN = 32
local ENTRY_LEN = 12
local MAX_DATAGRAM = 1400
local MAX_CHUNKS = 1024
local DIGEST_BODY_LEN = 36
local STATION_LEN = 20
-- The key the devices use without `ip proxy-mobile aap key`.
local UNAUTHENTICATED_KEY = "pmip subnet map exchange, unauthenticated"

local JOIN, TABLE, UPDATE, ACK, DIGEST, SYNC, STATIONS = 1, 2, 3, 4, 5, 6, 7
local type_names = {
    [JOIN] = "Join", [TABLE] = "Table", [UPDATE] = "Update",
    [ACK] = "Ack", [DIGEST] = "Digest", [SYNC] = "SyncRequest",
    [STATIONS] = "Stations",
}

-- 32-bit operations ---------------------------------------------------------

local band, bor, bxor, bnot, rshift, lshift, rrotate
if bit32 then
    band, bor, bxor, bnot = bit32.band, bit32.bor, bit32.bxor, bit32.bnot
    rshift, lshift, rrotate = bit32.rshift, bit32.lshift, bit32.rrotate
else
    -- Compiled at run time so that a Lua 5.2 parser never sees the operators;
    -- bxor takes up to three operands, as bit32's is called here.
    band, bor, bxor, bnot, rshift, lshift, rrotate = load([[
        local M = 0xffffffff
        return function(a, b) return a & b end,
            function(a, b) return a | b end,
            function(a, b, c) return a ~ b ~ (c or 0) end,
            function(a) return ~a & M end,
            function(a, n) return (a & M) >> n end,
            function(a, n) return (a << n) & M end,
            function(a, n) a = a & M; return ((a >> n) | (a << (32 - n))) & M end
    ]])()
end

-- SHA-256 (FIPS 180-4) and HMAC (RFC 2104), to check the trailer.

local K = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
}
local TWO32 = 4294967296

local function be32(s, i)
    local a, b, c, d = s:byte(i, i + 3)
    return ((a * 256 + b) * 256 + c) * 256 + d
end

local function sha256(msg)
    local h = { 0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19 }
    local bits = #msg * 8
    local tail = {}
    for i = 7, 0, -1 do
        tail[#tail + 1] = string.char(math.floor(bits / 2 ^ (8 * i)) % 256)
    end
    msg = msg .. "\128" .. string.rep("\0", (55 - #msg) % 64) .. table.concat(tail)
    local w = {}
    for chunk = 1, #msg, 64 do
        for i = 0, 15 do
            w[i] = be32(msg, chunk + 4 * i)
        end
        for i = 16, 63 do
            local x, y = w[i - 15], w[i - 2]
            local s0 = bxor(rrotate(x, 7), rrotate(x, 18), rshift(x, 3))
            local s1 = bxor(rrotate(y, 17), rrotate(y, 19), rshift(y, 10))
            w[i] = (w[i - 16] + s0 + w[i - 7] + s1) % TWO32
        end
        local a, b, c, d, e, f, g, hh = h[1], h[2], h[3], h[4], h[5], h[6], h[7], h[8]
        for i = 0, 63 do
            local S1 = bxor(rrotate(e, 6), rrotate(e, 11), rrotate(e, 25))
            local ch = bxor(band(e, f), band(bnot(e), g))
            local t1 = (hh + S1 + ch + K[i + 1] + w[i]) % TWO32
            local S0 = bxor(rrotate(a, 2), rrotate(a, 13), rrotate(a, 22))
            local maj = bxor(band(a, b), band(a, c), band(b, c))
            local t2 = (S0 + maj) % TWO32
            hh, g, f, e, d, c, b, a = g, f, e, (d + t1) % TWO32, c, b, a, (t1 + t2) % TWO32
        end
        h[1], h[2], h[3], h[4] = (h[1] + a) % TWO32, (h[2] + b) % TWO32, (h[3] + c) % TWO32, (h[4] + d) % TWO32
        h[5], h[6], h[7], h[8] = (h[5] + e) % TWO32, (h[6] + f) % TWO32, (h[7] + g) % TWO32, (h[8] + hh) % TWO32
    end
    local out = {}
    for i = 1, 8 do
        local v = h[i]
        out[i] = string.char(math.floor(v / 16777216) % 256, math.floor(v / 65536) % 256,
            math.floor(v / 256) % 256, v % 256)
    end
    return table.concat(out)
end

local function xor_pad(key, byte)
    local out = {}
    for i = 1, 64 do
        out[i] = string.char(bxor(key:byte(i) or 0, byte))
    end
    return table.concat(out)
end

local function hmac_sha256(key, msg)
    if #key > 64 then
        key = sha256(key)
    end
    return sha256(xor_pad(key, 0x5c) .. sha256(xor_pad(key, 0x36) .. msg))
end

-- The protocol ---------------------------------------------------------------

local pmip = Proto("pmip", "pmip Subnet Map Exchange")

local f = {
    version = ProtoField.uint8("pmip.version", "Version", base.DEC),
    type = ProtoField.uint8("pmip.type", "Type", base.DEC, type_names),
    flags = ProtoField.uint16("pmip.flags", "Flags", base.HEX),
    full_table = ProtoField.bool("pmip.flags.full_table", "Full table (F)", 16, nil, 0x0001),
    flags_reserved = ProtoField.uint16("pmip.flags.reserved", "Reserved flags", base.HEX, nil, 0xfffe),
    sender = ProtoField.ipv4("pmip.sender", "Sender Address"),
    epoch = ProtoField.uint32("pmip.epoch", "Boot Epoch", base.DEC),
    seq = ProtoField.uint32("pmip.seq", "Sequence", base.DEC),
    reference = ProtoField.uint32("pmip.reference", "Reference", base.DEC),
    chunk_index = ProtoField.uint16("pmip.chunk_index", "Chunk Index", base.DEC),
    chunk_count = ProtoField.uint16("pmip.chunk_count", "Chunk Count", base.DEC),
    entry_count = ProtoField.uint16("pmip.entry_count", "Entry Count", base.DEC),
    reserved = ProtoField.uint16("pmip.reserved", "Reserved", base.HEX),
    entry = ProtoField.none("pmip.entry", "Entry"),
    home_agent = ProtoField.ipv4("pmip.entry.home_agent", "Home Agent Address"),
    prefix_len = ProtoField.uint8("pmip.entry.prefix_len", "Prefix Length", base.DEC),
    mask = ProtoField.ipv4("pmip.entry.mask", "Subnet Mask"),
    subnet = ProtoField.string("pmip.entry.subnet", "Subnet"),
    entry_flags = ProtoField.uint8("pmip.entry.flags", "Entry Flags", base.HEX),
    deleted = ProtoField.bool("pmip.entry.deleted", "Deleted (D, a tombstone)", 8, nil, 0x01),
    entry_flags_reserved = ProtoField.uint8("pmip.entry.flags.reserved", "Reserved entry flags", base.HEX, nil, 0xfe),
    ap_count = ProtoField.uint16("pmip.entry.ap_count", "AP Count", base.DEC),
    entry_version = ProtoField.uint32("pmip.entry.version", "Version", base.DEC),
    ap = ProtoField.ipv4("pmip.entry.ap", "AP Address"),
    station = ProtoField.none("pmip.station", "Station"),
    station_mac = ProtoField.ether("pmip.station.mac", "Station MAC Address"),
    station_reserved = ProtoField.uint16("pmip.station.reserved", "Reserved", base.HEX),
    station_address = ProtoField.ipv4("pmip.station.address", "Station IPv4 Address"),
    station_ap = ProtoField.ipv4("pmip.station.ap", "AP Address (last saw it)"),
    station_age = ProtoField.uint32("pmip.station.age", "Age (seconds)", base.DEC),
    digest = ProtoField.bytes("pmip.digest", "Table Digest (SHA-256)"),
    digest_entries = ProtoField.uint32("pmip.digest_entries", "Live Entries", base.DEC),
    body = ProtoField.bytes("pmip.body", "Body"),
    hmac = ProtoField.bytes("pmip.hmac", "HMAC-SHA256"),
    hmac_valid = ProtoField.bool("pmip.hmac.valid", "HMAC verifies"),
}
pmip.fields = f

local e_malformed = ProtoExpert.new("pmip.malformed", "Malformed subnet map exchange datagram",
    expert.group.MALFORMED, expert.severity.ERROR)
local e_hmac = ProtoExpert.new("pmip.hmac.bad", "HMAC-SHA256 does not verify under the configured key",
    expert.group.CHECKSUM, expert.severity.WARN)
local e_sender = ProtoExpert.new("pmip.sender.mismatch", "Sender Address is not the source address",
    expert.group.PROTOCOL, expert.severity.WARN)
pmip.experts = { e_malformed, e_hmac, e_sender }

pmip.prefs.key = Pref.string("Shared key",
    "",
    "The `ip proxy-mobile aap key` of the campus: `ascii TEXT`, `hex HEX` or just the text. " ..
    "Empty: the well-known key devices use without one.")

-- The key bytes of the preference, or nil and why not.
local function key_bytes()
    local k = pmip.prefs.key or ""
    if k == "" then
        return UNAUTHENTICATED_KEY
    end
    local kind, rest = k:match("^(%a+)%s+(.*)$")
    if kind == "hex" then
        local hex = rest:gsub("%s", "")
        if #hex % 2 ~= 0 or hex:find("[^%x]") then
            return nil, "the hex key preference is not an even number of hex digits"
        end
        return (hex:gsub("%x%x", function(h) return string.char(tonumber(h, 16)) end))
    elseif kind == "ascii" then
        return rest
    end
    return k
end

local function mask_of(len)
    local parts = {}
    for i = 1, 4 do
        local bits = math.max(0, math.min(8, len - 8 * (i - 1)))
        parts[i] = 256 - 2 ^ (8 - bits)
    end
    return string.format("%d.%d.%d.%d", parts[1], parts[2], parts[3], parts[4])
end

local function subnet_of(ha, len)
    local m = { mask_of(len):match("(%d+)%.(%d+)%.(%d+)%.(%d+)") }
    local a = { ha:match("(%d+)%.(%d+)%.(%d+)%.(%d+)") }
    local net = {}
    for i = 1, 4 do
        net[i] = band(tonumber(a[i]), tonumber(m[i]))
    end
    return string.format("%d.%d.%d.%d/%d", net[1], net[2], net[3], net[4], len)
end

-- Parses one entry at `off` of the body range; returns its length, or nil
-- after flagging it malformed. `join`: an announced subnet (D, Version and
-- AP Count must be zero).
local function dissect_entry(body, off, tree, pinfo, join, problems)
    local left = body:len() - off
    if left < ENTRY_LEN then
        local t = tree:add(f.entry, body(off))
        t:set_text(string.format("Truncated entry: %d bytes, an entry needs %d", left, ENTRY_LEN))
        problems[#problems + 1] = "truncated entry"
        t:add_proto_expert_info(e_malformed, "Truncated entry")
        return nil
    end
    local prefix = body(off + 4, 1):uint()
    local flags = body(off + 5, 1):uint()
    local ap_count = body(off + 6, 2):uint()
    local len = ENTRY_LEN + 4 * ap_count
    local fits = len <= left
    local t = tree:add(f.entry, body(off, fits and len or left))
    local ha = tostring(body(off, 4):ipv4())
    t:add(f.home_agent, body(off, 4))
    local pi = t:add(f.prefix_len, body(off + 4, 1))
    local bad = nil
    if prefix <= 32 then
        t:add(f.mask, body(off + 4, 1), Address.ip(mask_of(prefix))):set_generated()
        t:add(f.subnet, body(off + 4, 1), subnet_of(ha, prefix)):set_generated()
    else
        bad = "prefix length above 32"
        pi:add_proto_expert_info(e_malformed, "Prefix length above 32")
    end
    local fl = t:add(f.entry_flags, body(off + 5, 1))
    fl:add(f.deleted, body(off + 5, 1))
    fl:add(f.entry_flags_reserved, body(off + 5, 1))
    if band(flags, 0xfe) ~= 0 then
        bad = bad or "reserved entry flag set"
        fl:add_proto_expert_info(e_malformed, "Reserved entry flag set")
    end
    local ac = t:add(f.ap_count, body(off + 6, 2))
    local ver = body(off + 8, 4):uint()
    t:add(f.entry_version, body(off + 8, 4))
    if fits then
        for i = 0, ap_count - 1 do
            t:add(f.ap, body(off + ENTRY_LEN + 4 * i, 4))
        end
    else
        bad = bad or "AP count beyond the body"
        ac:add_proto_expert_info(e_malformed,
            string.format("AP Count %d needs %d bytes, %d left", ap_count, len, left))
    end
    if join and (flags ~= 0 or ver ~= 0 or ap_count ~= 0) then
        bad = bad or "Join entry with flags, version or APs"
        t:add_proto_expert_info(e_malformed,
            "Join entry with flags, version or APs: a Join announces a subnet, D, Version and AP Count must be zero")
    end
    local deleted = band(flags, 0x01) ~= 0
    local subnet = prefix <= 32 and subnet_of(ha, prefix) or ("prefix length " .. prefix)
    if join then
        t:set_text(string.format("Subnet: %s, home agent %s", subnet, ha))
    else
        t:set_text(string.format("Entry: %s, home agent %s, version %d%s, %d AP%s",
            subnet, ha, ver, deleted and ", deleted" or "", ap_count, ap_count == 1 and "" or "s"))
    end
    if bad then
        problems[#problems + 1] = bad
        return nil
    end
    return len, subnet .. " HA " .. ha .. (deleted and " deleted" or "")
end

-- A host's own unicast address: not 0.0.0.0, the broadcast or a group.
local function unicast(a)
    local first = tonumber(a:match("^(%d+)"))
    return a ~= "0.0.0.0" and a ~= "255.255.255.255" and not (first >= 224 and first <= 239)
end

-- One entry of a Stations body at `off`; returns its summary, or nil
-- after flagging it malformed.
local function dissect_station(body, off, tree, problems)
    local t = tree:add(f.station, body(off, STATION_LEN))
    local mi = t:add(f.station_mac, body(off, 6))
    local ri = t:add(f.station_reserved, body(off + 6, 2))
    local ai = t:add(f.station_address, body(off + 8, 4))
    t:add(f.station_ap, body(off + 12, 4))
    t:add(f.station_age, body(off + 16, 4))
    local mac = tostring(body(off, 6):ether())
    local addr, ap = tostring(body(off + 8, 4):ipv4()), tostring(body(off + 12, 4):ipv4())
    local age = body(off + 16, 4):uint()
    t:set_text(string.format("Station: %s %s, seen by AP %s %d s ago", mac, addr, ap, age))
    local bad = nil
    if body(off + 6, 2):uint() ~= 0 then
        bad = "reserved field not zero"
        ri:add_proto_expert_info(e_malformed, "Reserved field not zero")
    end
    local b0 = body(off, 1):uint()
    if band(b0, 1) ~= 0 or body(off, 6):bytes():tohex() == "000000000000" then
        bad = bad or "a group or zero MAC address"
        mi:add_proto_expert_info(e_malformed, "A group or zero MAC address: a station's is an individual one")
    end
    if not unicast(addr) or not unicast(ap) then
        bad = bad or "an address that is not a host's"
        ai:add_proto_expert_info(e_malformed, "An address that is not a host's (0.0.0.0, broadcast or group)")
    end
    if bad then
        problems[#problems + 1] = bad
        return nil
    end
    return string.format("%s %s at %s", mac, addr, ap)
end

local function dissect(tvb, pinfo, tree)
    local len = tvb:len()
    pinfo.cols.protocol = "pmip"
    local t = tree:add(pmip, tvb())
    local problems = {}
    local function malformed(item, text)
        problems[#problems + 1] = text
        item:add_proto_expert_info(e_malformed, text)
    end

    if len < HEADER_LEN then
        malformed(t, string.format("%d bytes: shorter than the %d-byte header", len, HEADER_LEN))
        t:add(f.body, tvb())
        pinfo.cols.info = "Malformed: " .. len .. " bytes"
        return len
    end
    local version = tvb(0, 1):uint()
    local mtype = tvb(1, 1):uint()
    local flags = tvb(2, 2):uint()
    local seq = tvb(12, 4):uint()
    local ref = tvb(16, 4):uint()
    local cidx, ccount = tvb(20, 2):uint(), tvb(22, 2):uint()
    local ecount = tvb(24, 2):uint()
    local name = type_names[mtype] or ("Unknown type " .. mtype)

    local vi = t:add(f.version, tvb(0, 1))
    local ti = t:add(f.type, tvb(1, 1))
    local fi = t:add(f.flags, tvb(2, 2))
    fi:add(f.full_table, tvb(2, 2))
    fi:add(f.flags_reserved, tvb(2, 2))
    local si = t:add(f.sender, tvb(4, 4))
    local ep = t:add(f.epoch, tvb(8, 4))
    local epoch = tvb(8, 4):uint()
    ep:append_text(os.date("! (as Unix time: %Y-%m-%d %H:%M:%S UTC)", epoch))
    local qi = t:add(f.seq, tvb(12, 4))
    local ri = t:add(f.reference, tvb(16, 4))
    local what = ({ [TABLE] = "the request answered", [UPDATE] = "the group: sequence of chunk 0",
        [ACK] = "the sequence acknowledged" })[mtype]
    if what then
        ri:append_text(" (" .. what .. ")")
    end
    local cii = t:add(f.chunk_index, tvb(20, 2))
    t:add(f.chunk_count, tvb(22, 2))
    local eci = t:add(f.entry_count, tvb(24, 2))
    local rsi = t:add(f.reserved, tvb(26, 2))

    if tostring(pinfo.src) ~= tostring(tvb(4, 4):ipv4()) then
        si:add_proto_expert_info(e_sender,
            "Sender Address " .. tostring(tvb(4, 4):ipv4()) .. " is not the source address " .. tostring(pinfo.src))
    end

    local short = len < HEADER_LEN + MAC_LEN
    if short then
        malformed(t, string.format("%d bytes: shorter than header and trailer (%d)", len, HEADER_LEN + MAC_LEN))
    end
    if len > MAX_DATAGRAM then
        malformed(t, string.format("%d bytes: longer than %d", len, MAX_DATAGRAM))
    end

    local known = version == 1 and type_names[mtype] ~= nil
    if version ~= 1 then
        malformed(vi, "Unsupported version " .. version .. " (only 1 is defined)")
    end
    if type_names[mtype] == nil then
        malformed(ti, "Unknown message type " .. mtype)
    end
    if tvb(26, 2):uint() ~= 0 then
        malformed(rsi, "Reserved field not zero")
    end
    local allowed = mtype == JOIN and 0x0001 or 0
    if band(flags, bnot(allowed)) ~= 0 then
        malformed(fi, "Undefined flag set")
    end
    if seq == 0 then
        malformed(qi, "Sequence 0")
    end
    local chunked = mtype == TABLE or mtype == UPDATE
    if chunked then
        if ccount == 0 or cidx >= ccount then
            malformed(cii, "Chunk Index outside Chunk Count")
        elseif ccount > MAX_CHUNKS then
            malformed(cii, "Chunk Count above " .. MAX_CHUNKS)
        end
    elseif known and (cidx ~= 0 or ccount ~= 1) then
        malformed(cii, "Unchunked message with chunk fields other than 0 of 1")
    end
    local referencing = mtype == TABLE or mtype == UPDATE or mtype == ACK
    if known and referencing and ref == 0 then
        malformed(ri, "Reference 0 on " .. name .. " (it names the sequence it answers)")
    elseif known and not referencing and ref ~= 0 then
        malformed(ri, "Reference must be 0 on " .. name)
    end

    local info
    local hmac_ok = nil
    if short then
        info = name
        if len > HEADER_LEN then
            t:add(f.body, tvb(HEADER_LEN))
        end
    else
        local body_len = len - HEADER_LEN - MAC_LEN
        local body = tvb(HEADER_LEN, body_len):tvb()
        local summary = {}
        if not known then
            if body_len > 0 then
                t:add(f.body, tvb(HEADER_LEN, body_len))
            end
        elseif mtype == JOIN or mtype == TABLE or mtype == UPDATE then
            local off = 0
            local framed = true
            for _ = 1, ecount do
                local n, s = dissect_entry(body, off, t, pinfo, mtype == JOIN, problems)
                if not n then
                    framed = false
                    break
                end
                summary[#summary + 1] = s
                off = off + n
            end
            if framed and off ~= body_len then
                malformed(eci, string.format("Body is %d bytes, the %d entries take %d", body_len, ecount, off))
                if off < body_len then
                    t:add(f.body, tvb(HEADER_LEN + off, body_len - off)):set_text("Trailing bytes after the entries")
                end
            end
        elseif mtype == STATIONS then
            if ecount * STATION_LEN ~= body_len then
                malformed(eci, string.format("Body is %d bytes, the %d stations take %d",
                    body_len, ecount, ecount * STATION_LEN))
            end
            local n = math.min(ecount, math.floor(body_len / STATION_LEN))
            for i = 0, n - 1 do
                local sm = dissect_station(body, i * STATION_LEN, t, problems)
                if not sm then
                    break
                end
                summary[#summary + 1] = sm
            end
        elseif mtype == DIGEST then
            if ecount ~= 0 or body_len ~= DIGEST_BODY_LEN then
                malformed(eci, string.format("A Digest body is %d bytes with Entry Count 0 (is %d bytes, count %d)",
                    DIGEST_BODY_LEN, body_len, ecount))
                if body_len > 0 then
                    t:add(f.body, tvb(HEADER_LEN, body_len))
                end
            else
                t:add(f.digest, tvb(HEADER_LEN, 32))
                t:add(f.digest_entries, tvb(HEADER_LEN + 32, 4))
                summary[1] = tvb(HEADER_LEN + 32, 4):uint() .. " live entries"
            end
        else
            if ecount ~= 0 or body_len ~= 0 then
                malformed(eci, string.format("A %s has no body (is %d bytes, count %d)", name, body_len, ecount))
                if body_len > 0 then
                    t:add(f.body, tvb(HEADER_LEN, body_len))
                end
            end
        end

        local mi = t:add(f.hmac, tvb(len - MAC_LEN, MAC_LEN))
        local key, why = key_bytes()
        if key then
            hmac_ok = hmac_sha256(key, tvb(0, len - MAC_LEN):raw()) == tvb(len - MAC_LEN, MAC_LEN):raw()
            t:add(f.hmac_valid, tvb(len - MAC_LEN, MAC_LEN), hmac_ok):set_generated()
            if hmac_ok then
                mi:append_text(" [verifies]")
            else
                mi:add_proto_expert_info(e_hmac, (pmip.prefs.key == "" and
                    "HMAC-SHA256 does not verify under the unauthenticated key: set the pmip key preference to the campus's `ip proxy-mobile aap key`"
                    or "HMAC-SHA256 does not verify under the pmip key preference"))
                mi:append_text(" [does not verify]")
            end
        else
            mi:append_text(" [not checked: " .. why .. "]")
        end

        -- Info column, one line per datagram.
        if mtype == JOIN then
            info = string.format("Join%s seq %d, %d subnet%s", band(flags, 1) ~= 0 and " (full table)" or "",
                seq, ecount, ecount == 1 and "" or "s")
        elseif mtype == TABLE or mtype == UPDATE then
            info = string.format("%s seq %d %s %d, chunk %d/%d, %d entr%s", name, seq,
                mtype == TABLE and "answers" or "group", ref, cidx + 1, ccount, ecount, ecount == 1 and "y" or "ies")
        elseif mtype == ACK then
            info = string.format("Ack seq %d of %d", seq, ref)
        elseif mtype == DIGEST then
            info = string.format("Digest seq %d", seq)
        elseif mtype == SYNC then
            info = string.format("SyncRequest seq %d", seq)
        elseif mtype == STATIONS then
            info = string.format("Stations seq %d, %d station%s", seq, ecount, ecount == 1 and "" or "s")
        else
            info = name
        end
        if #summary > 0 then
            info = info .. ": " .. table.concat(summary, ", ")
        end
        if hmac_ok == false then
            info = info .. " [bad HMAC]"
        end
    end
    t:append_text(", " .. name .. ", seq " .. seq)
    if #problems > 0 then
        info = info .. " [Malformed: " .. problems[1] .. "]"
    end
    pinfo.cols.info = info
    return len
end

function pmip.dissector(tvb, pinfo, tree)
    return dissect(tvb, pinfo, tree)
end

-- The home agent liveness probe (section 10 of the specification): a
-- Registration Request from the AAP's UDP 4342 to the broadcast address of
-- the home agent's subnet on port 434, with lifetime 0, home address = home
-- agent = care-of address = that broadcast and an MHAE whose SPI no home
-- agent has; any Registration Reply back to 4342 means the home agent is
-- alive. Wireshark's own Mobile IP dissector decodes the registration; this
-- wraps it and says what the datagram is for.

local probe = Proto("pmip_probe", "pmip Home Agent Liveness Probe")
local pf = {
    kind = ProtoField.string("pmip_probe.kind", "Kind"),
    broadcast = ProtoField.ipv4("pmip_probe.broadcast", "Subnet broadcast probed"),
    spi = ProtoField.uint32("pmip_probe.spi", "SPI", base.HEX),
    code = ProtoField.uint8("pmip_probe.code", "Reply code", base.DEC),
    home_agent = ProtoField.ipv4("pmip_probe.home_agent", "Home agent that answered"),
}
probe.fields = pf
local e_probe_odd = ProtoExpert.new("pmip_probe.unexpected", "Not shaped like pmip's liveness probe",
    expert.group.PROTOCOL, expert.severity.WARN)
local e_alive = ProtoExpert.new("pmip_probe.alive", "A home agent answered the liveness probe: it stays in the subnet map",
    expert.group.SEQUENCE, expert.severity.CHAT)
probe.experts = { e_probe_odd, e_alive }

local mip_dissector = Dissector.get("mip")

function probe.dissector(tvb, pinfo, tree)
    local n = mip_dissector:call(tvb, pinfo, tree)
    local from_probe = pinfo.src_port == PROBE_PORT and pinfo.dst_port == MIP_PORT
    local to_probe = pinfo.src_port == MIP_PORT and pinfo.dst_port == PROBE_PORT
    if not (from_probe or to_probe) or tvb:len() < 1 then
        return n
    end
    local mtype = tvb(0, 1):uint()
    local t = tree:add(probe, tvb())
    if from_probe then
        t:add(pf.kind, tvb(0, 1), "probe (AAP asks whether a home agent is alive)"):set_generated()
        if tvb:len() < 24 or mtype ~= 1 then
            t:add_proto_expert_info(e_probe_odd, "A probe is a Registration Request (type 1) of at least 24 bytes")
            return n
        end
        local home, ha, coa = tvb(4, 4):ipv4(), tvb(8, 4):ipv4(), tvb(12, 4):ipv4()
        t:add(pf.broadcast, tvb(4, 4)):set_generated()
        if tostring(home) ~= tostring(ha) or tostring(ha) ~= tostring(coa) or tvb(2, 2):uint() ~= 0 then
            t:add_proto_expert_info(e_probe_odd,
                "A probe has lifetime 0 and home address = home agent = care-of address = the subnet broadcast")
        end
        if tvb:len() >= 30 and tvb(24, 1):uint() == 32 then
            t:add(pf.spi, tvb(26, 4)):set_generated()
        else
            t:add_proto_expert_info(e_probe_odd, "A probe carries a Mobile-Home Authentication Extension first")
        end
        pinfo.cols.info = "pmip liveness probe of " .. tostring(home) .. " (" .. tostring(pinfo.cols.info) .. ")"
    else
        t:add(pf.kind, tvb(0, 1), "answer (the home agent is alive)"):set_generated()
        if mtype ~= 3 or tvb:len() < 2 then
            t:add_proto_expert_info(e_probe_odd, "An answer is a Registration Reply (type 3)")
            return n
        end
        t:add(pf.code, tvb(1, 1)):set_generated()
        t:add(pf.home_agent, tvb(0, 1), pinfo.src):set_generated()
        t:add_proto_expert_info(e_alive)
        pinfo.cols.info = "pmip liveness probe answered by " .. tostring(pinfo.src) .. " (" .. tostring(pinfo.cols.info) .. ")"
    end
    return n
end

-- UDP 4341 is also LISP data's port; captures of pmip campuses have no
-- LISP, and Decode As gives it back. Port 434 goes through the probe
-- wrapper, which hands everything to the Mobile IP dissector first.
-- Registered at init as well as now: a built-in dissector's own
-- registration of the port may come after this script is loaded.
local function register_ports()
    local udp = DissectorTable.get("udp.port")
    udp:add(PORT, pmip)
    udp:add(MIP_PORT, probe)
end
register_ports()
function pmip.init()
    register_ports()
end
