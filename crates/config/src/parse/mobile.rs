//! Global `ip mobile ...` (the router's home and foreign agent) and
//! `ip proxy-mobile ...` (the access point).

use super::*;

/// Most addresses an `ip mobile secure home-agent|foreign-agent` range
/// may cover.
const MAX_AGENT_SA_RANGE: u64 = 1024;

impl Config {
    /// Global `ip mobile ...` (IOS Mobile IP command reference).
    pub(super) fn ip_mobile_global(&mut self, c: &mut Cur, neg: bool) -> Result<(), Fail> {
        if c.eat("home-agent") {
            if neg {
                self.mobile.home_agent = None;
                return Ok(());
            }
            let mut ha = HomeAgent::default();
            while !c.done() {
                if c.eat("lifetime") {
                    ha.lifetime = c.num_u32("lifetime (seconds)", 3, 65535)?;
                } else if c.eat("reverse-tunnel-off") {
                    ha.reverse_tunnel_off = true;
                } else if c.is("broadcast") {
                    // RFC 5944 4.3: a home agent forwards broadcasts only to
                    // mobile nodes that asked (the B bit); this one
                    // forwards none, so the option would promise nothing.
                    return Err(Fail::Bad(
                        "`broadcast` is not supported: this home agent forwards no broadcasts to mobile \
                         nodes (RFC 5944 4.3); remove it"
                            .into(),
                    ));
                } else if c.is("replay") {
                    return Err(Fail::Bad(
                        "`replay` is not supported on ip mobile home-agent: the timestamp window is each \
                         security association's, `replay timestamp within N` on `ip mobile secure host` \
                         (RFC 5944 5.7)"
                            .into(),
                    ));
                } else {
                    c.end_or("`lifetime N`, `reverse-tunnel-off`")?;
                }
            }
            self.mobile.home_agent = Some(ha);
            return Ok(());
        }
        if c.eat("host") {
            let range = parse_range(c, "the first home address")?;
            if neg {
                self.mobile.hosts.remove(0, range);
                return Ok(());
            }
            let mut host = MobileHost {
                range,
                interface: None,
                aaa: None,
                lifetime: None,
            };
            while !c.done() {
                if c.eat("interface") {
                    host.interface = Some(c.ifname()?);
                } else if c.eat("aaa") {
                    host.aaa = Some(if c.eat("load-sa") {
                        if c.eat("permanent") {
                            AaaLoad::LoadSaPermanent
                        } else {
                            AaaLoad::LoadSa
                        }
                    } else {
                        AaaLoad::OnDemand
                    });
                } else if c.eat("lifetime") {
                    host.lifetime = Some(c.num_u32("lifetime (seconds)", 3, 65535)?);
                } else if c.is("virtual-network") {
                    return Err(Fail::Bad(
                        "virtual-network is not supported; give the home interface with `interface NAME`".into(),
                    ));
                } else {
                    c.end_or("`interface NAME`, `aaa [load-sa [permanent]]`, `lifetime N`")?;
                }
            }
            if host.interface.is_none() && host.aaa.is_none() {
                return Err(Fail::Bad(expected(
                    "`interface NAME` (the home interface) or `aaa`",
                    None,
                )));
            }
            if let Some(o) = self.mobile.hosts.overlapping(0, range) {
                return Err(Fail::Bad(format!(
                    "overlaps `ip mobile host {}`; remove that one first with `no ip mobile host {}`",
                    o.range, o.range
                )));
            }
            let _ = self.mobile.hosts.upsert(host);
            return Ok(());
        }
        if c.eat("secure") {
            let peer = if c.eat("host") {
                SaPeer::Host
            } else if c.eat("visitor") {
                SaPeer::Visitor
            } else if c.eat("home-agent") {
                SaPeer::HomeAgent
            } else if c.eat("foreign-agent") {
                SaPeer::ForeignAgent
            } else {
                return Err(Fail::Bad(expected(
                    "`host`, `visitor`, `home-agent` or `foreign-agent` after ip mobile secure",
                    c.peek(),
                )));
            };
            let range = parse_range(c, "an address")?;
            if neg {
                self.mobile.secure.remove(peer as u8, range);
                return Ok(());
            }
            // An agent peer's association is kept once per address (the
            // engines look agents up by address), so its range is bounded.
            if matches!(peer, SaPeer::HomeAgent | SaPeer::ForeignAgent)
                && range.len() > MAX_AGENT_SA_RANGE
            {
                return Err(Fail::Bad(format!(
                    "an `ip mobile secure {}` range covers at most {MAX_AGENT_SA_RANGE} addresses, found {}; \
                     split it or give the agents' addresses",
                    peer.keyword(),
                    range.len()
                )));
            }
            let sa = parse_sa(c, KeyRules::Router)?;
            if let Some(o) = self.mobile.secure.overlapping(peer as u8, range) {
                return Err(Fail::Bad(format!(
                    "overlaps the association for {}; remove it first with `no ip mobile secure {} {}`",
                    o.range,
                    peer.keyword(),
                    o.range
                )));
            }
            let _ = self.mobile.secure.upsert(SecureEntry { peer, range, sa });
            return Ok(());
        }
        if c.eat("foreign-agent") {
            if neg {
                if c.done() {
                    self.mobile.foreign_agent = None;
                } else if c.eat("care-of") {
                    let name = c.ifname()?;
                    c.end()?;
                    if let Some(fa) = &mut self.mobile.foreign_agent {
                        fa.care_of.retain(|n| *n != name);
                    }
                } else if c.eat("reg-wait") {
                    if let Some(fa) = &mut self.mobile.foreign_agent {
                        fa.reg_wait = DEFAULT_REG_WAIT;
                    }
                    c.skip_rest();
                } else {
                    c.end_or("`care-of IF`, `reg-wait`")?;
                }
                return Ok(());
            }
            let mut care_of = Vec::new();
            let mut reg_wait = None;
            while !c.done() {
                if c.eat("care-of") {
                    care_of.push(c.ifname()?);
                } else if c.eat("reg-wait") {
                    reg_wait = Some(c.num_u32("reg-wait (seconds)", 5, 600)?);
                } else {
                    c.end_or("`care-of INTERFACE`, `reg-wait N`")?;
                }
            }
            // One care-of address: the advertisement, the relayed requests
            // and the tunnels all use the one interface's address.
            if let Some(first) = care_of.first() {
                if let Some(second) = care_of.iter().find(|n| *n != first) {
                    return Err(Fail::Bad(format!(
                        "one care-of interface is supported; this line names {first} and {second}"
                    )));
                }
                let current = self.mobile.foreign_agent.as_ref().map(|fa| &fa.care_of);
                if let Some(other) = current.into_iter().flatten().find(|n| *n != first) {
                    return Err(Fail::Bad(format!(
                        "one care-of interface is supported, and {other} is it; remove it first with \
                         `no ip mobile foreign-agent care-of {other}`"
                    )));
                }
            }
            let fa = self
                .mobile
                .foreign_agent
                .get_or_insert_with(ForeignAgent::default);
            for name in care_of {
                if !fa.care_of.contains(&name) {
                    fa.care_of.push(name);
                }
            }
            if let Some(w) = reg_wait {
                fa.reg_wait = w;
            }
            return Ok(());
        }
        if c.eat("bindupdate") {
            let ack = c.eat("ack");
            c.end_or("`ack`")?;
            if ack {
                self.mobile.bindupdate_ack = !neg;
            } else {
                self.mobile.bindupdate = !neg;
            }
            return Ok(());
        }
        if c.is("foreign-service") || c.is("registration-lifetime") || c.is("prefix-length") {
            return Err(Fail::NotHere);
        }
        Err(Fail::Bad(expected(
            "`home-agent`, `host`, `secure`, `foreign-agent` or `bindupdate` after ip mobile",
            c.peek(),
        )))
    }

    /// Global `ip proxy-mobile ...` (the Aironet documentation, steps 2-4 and "GRE
    /// Encapsulation", "Reverse Tunnels", pause).
    pub(super) fn proxy_global(&mut self, c: &mut Cur, neg: bool) -> Result<(), Fail> {
        if c.done() {
            // Bare `ip proxy-mobile` is an interface / SSID command.
            return Err(Fail::NotHere);
        }
        if c.eat("enable") {
            c.end()?;
            if neg {
                // The Aironet documentation: "If you disable proxy Mobile IP on your
                // access point, the entire proxy Mobile IP configuration is
                // cleared", including SPIs and keys.
                self.proxy_mobile = ProxyMobile::default();
                for i in &mut self.interfaces {
                    i.proxy_mobile = false;
                    for s in &mut i.ssids {
                        s.proxy_mobile = false;
                    }
                }
            } else {
                self.proxy_blocked()?;
                self.proxy_mobile.enabled = true;
            }
            return Ok(());
        }
        if c.eat("aap") {
            if c.peek() == Some("key") {
                if neg {
                    self.proxy_mobile.aap_key = None;
                    c.skip_rest();
                    return Ok(());
                }
                let key = parse_key(c, KeyRules::Router).map_err(Fail::Bad)?;
                c.end()?;
                self.proxy_mobile.aap_key = Some(key);
                return Ok(());
            }
            if neg {
                self.proxy_mobile.aaps.clear();
                c.skip_rest();
                return Ok(());
            }
            let mut aaps = Vec::new();
            while let Some(w) = c.next() {
                let aap = match w.parse::<Ipv4Addr>() {
                    Ok(a) => AapAddress::Addr(a),
                    Err(_) if valid_hostname(w) => AapAddress::Name(w.to_string()),
                    Err(_) => {
                        return Err(Fail::Bad(expected(
                            "the address or host name of an authoritative access point",
                            Some(w),
                        )));
                    }
                };
                if aaps.contains(&aap) {
                    return Err(Fail::Bad(format!("AAP {w} is listed twice")));
                }
                aaps.push(aap);
            }
            if aaps.is_empty() {
                return Err(Fail::Bad(expected(
                    "the address of an authoritative access point",
                    None,
                )));
            }
            if aaps.len() > 3 {
                return Err(Fail::Bad(format!(
                    "at most three authoritative access points (the Aironet documentation: \"up to three AAPs\"), found {}",
                    aaps.len()
                )));
            }
            self.proxy_mobile.aaps = aaps;
            return Ok(());
        }
        if c.eat("secure") {
            c.expect("node", "`node` after ip proxy-mobile secure")?;
            let range = parse_range(c, "the first client address")?;
            if neg {
                self.proxy_mobile.nodes.remove(0, range);
                return Ok(());
            }
            let sa = parse_sa(c, KeyRules::AccessPoint)?;
            if let Some(o) = self.proxy_mobile.nodes.overlapping(0, range) {
                return Err(Fail::Bad(format!(
                    "overlaps the association for {}; remove it first with `no ip proxy-mobile secure node {}`",
                    o.range, o.range
                )));
            }
            let _ = self.proxy_mobile.nodes.upsert(SecureNode { range, sa });
            return Ok(());
        }
        if c.eat("tunnel") {
            if c.eat("gre") {
                c.end()?;
                self.proxy_mobile.tunnel_gre = !neg;
            } else if c.eat("reverse") {
                c.end()?;
                self.proxy_mobile.tunnel_reverse = !neg;
            } else {
                return Err(Fail::Bad(expected(
                    "`gre` or `reverse` after ip proxy-mobile tunnel",
                    c.peek(),
                )));
            }
            return Ok(());
        }
        if c.eat("pause") {
            c.end()?;
            self.proxy_mobile.paused = !neg;
            return Ok(());
        }
        if c.eat("subnet-map") {
            let ha = c.ipv4("the home agent address")?;
            let mask = parse_mask(c)?;
            c.end()?;
            self.proxy_mobile.subnet_map.retain(|(h, _)| *h != ha);
            if !neg {
                self.proxy_mobile.subnet_map.push((ha, mask));
            }
            return Ok(());
        }
        Err(Fail::Bad(expected(
            "`enable`, `aap`, `secure node`, `tunnel`, `pause` or `subnet-map` after ip proxy-mobile",
            c.peek(),
        )))
    }
}
