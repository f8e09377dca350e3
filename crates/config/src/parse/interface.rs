//! Interface and SSID configuration modes.

use super::*;

impl Config {
    // ----------------------------------------------------------------
    // Interface configuration mode.

    pub(super) fn interface_cmd(&mut self, name: String, c: &mut Cur, neg: bool) -> Step {
        let here = Mode::Interface(name.clone());
        let radio = is_radio_name(&name);
        if c.eat("shutdown") {
            c.end()?;
            self.iface_mut(&name).shutdown = !neg;
            return Ok(here);
        }
        if c.eat("description") {
            let text = if neg {
                c.skip_rest();
                None
            } else {
                let t = c.rest();
                if t.is_empty() {
                    return Err(Fail::Bad(expected("the description text", None)));
                }
                c.skip_rest();
                Some(t.to_string())
            };
            self.iface_mut(&name).description = text;
            return Ok(here);
        }
        if c.eat("ssid") {
            if !radio {
                return Err(Fail::Bad(format!(
                    "`ssid` is only valid in a radio interface (Dot11Radio0 or Dot11Radio1), not {name}"
                )));
            }
            let ssid = c
                .next()
                .ok_or_else(|| expected("an SSID (1 to 32 characters)", None))?;
            if ssid.len() > 32 {
                return Err(Fail::Bad(format!(
                    "an SSID is 1 to 32 characters (IEEE 802.11), found {} characters",
                    ssid.len()
                )));
            }
            c.end()?;
            let iface = self.iface_mut(&name);
            if neg {
                iface.ssids.retain(|s| s.name != ssid);
                return Ok(here);
            }
            if iface.ssid(ssid).is_none() {
                iface.ssids.push(Ssid {
                    name: ssid.to_string(),
                    ..Ssid::default()
                });
            }
            return Ok(Mode::Ssid {
                interface: name,
                ssid: ssid.to_string(),
            });
        }
        if c.eat("station-role") {
            if !radio {
                return Err(Fail::Bad(format!(
                    "`station-role` is only valid in a radio interface (Dot11Radio0 or Dot11Radio1), not {name}"
                )));
            }
            if neg {
                c.skip_rest();
                self.iface_mut(&name).station_role = None;
                return Ok(here);
            }
            let role = if c.eat("root") {
                if !c.eat("access-point") {
                    c.eat("ap-only");
                }
                StationRole::Root
            } else if c.eat("repeater") {
                StationRole::Repeater
            } else if c.eat("non-root") {
                StationRole::NonRoot
            } else if c.eat("workgroup-bridge") {
                StationRole::WorkgroupBridge
            } else {
                return Err(Fail::Bad(expected(
                    "`root`, `repeater`, `non-root` or `workgroup-bridge` after station-role",
                    c.peek(),
                )));
            };
            c.end()?;
            if role != StationRole::Root && self.proxy_in_use() {
                return Err(Fail::Bad(format!(
                    "proxy Mobile IP is configured and works only on a root access point (the Aironet documentation: \
                     not on repeater access points); remove it with `no ip proxy-mobile enable` before \
                     `station-role {}`",
                    role.keyword()
                )));
            }
            self.iface_mut(&name).station_role = Some(role);
            return Ok(here);
        }
        if !c.eat("ip") {
            return Err(Fail::NotHere);
        }
        if c.eat("address") {
            self.ip_address_cmd(&name, c, neg)?;
            return Ok(here);
        }
        if c.eat("irdp") {
            self.irdp_cmd(&name, c, neg)?;
            return Ok(here);
        }
        if c.eat("proxy-mobile") {
            if !c.done() {
                return Err(Fail::NotHere);
            }
            if !neg {
                self.proxy_blocked()?;
            }
            self.iface_mut(&name).proxy_mobile = !neg;
            return Ok(here);
        }
        if c.eat("mobile") {
            if c.eat("foreign-service") {
                if neg {
                    c.skip_rest();
                    self.iface_mut(&name).foreign_service = None;
                    return Ok(here);
                }
                if self.interfaces.iter().any(|i| i.name == name && i.dhcp) {
                    return Err(Fail::Bad(format!(
                        "{name} takes its address by DHCP, and a foreign agent needs a static address; \
                         configure `ip address A M` first"
                    )));
                }
                let mut fs = ForeignService::default();
                while !c.done() {
                    if c.eat("home-access") {
                        fs.home_access = Some(home_access_acl(c)?);
                    } else if c.eat("limit") {
                        fs.limit = Some(c.num_u32("limit (visitors)", 1, 1000)?);
                    } else if c.eat("registration-required") {
                        fs.registration_required = true;
                    } else if c.eat("reverse-tunnel") {
                        fs.reverse_tunnel = true;
                        if c.eat("mandatory") {
                            fs.reverse_tunnel_mandatory = true;
                        }
                    } else {
                        c.end_or(
                            "`home-access ACL`, `limit N`, `registration-required`, `reverse-tunnel [mandatory]`",
                        )?;
                    }
                }
                self.iface_mut(&name).foreign_service = Some(fs);
                return Ok(here);
            }
            if c.eat("registration-lifetime") {
                let v = if neg {
                    c.skip_rest();
                    None
                } else {
                    let v = c.num_u32("registration-lifetime (seconds)", 3, 65535)?;
                    c.end()?;
                    Some(v)
                };
                self.iface_mut(&name).registration_lifetime = v;
                return Ok(here);
            }
            if c.eat("prefix-length") {
                c.end()?;
                self.iface_mut(&name).prefix_length = Some(!neg);
                return Ok(here);
            }
            return Err(Fail::NotHere);
        }
        Err(Fail::NotHere)
    }

    /// `ip address A M [secondary]`.
    pub(super) fn ip_address_cmd(
        &mut self,
        name: &str,
        c: &mut Cur,
        neg: bool,
    ) -> Result<(), Fail> {
        if c.eat("dhcp") {
            c.end()?;
            if neg {
                self.iface_mut(name).dhcp = false;
                return Ok(());
            }
            // Only the AP's own address is leased: a router's agent roles
            // need an address that does not change under them.
            if name != "BVI1" {
                return Err(Fail::Bad(format!(
                    "`ip address dhcp` is supported on BVI1 (the access point's own address) only, not {name}; \
                     configure a static `ip address A M`"
                )));
            }
            if self
                .interfaces
                .iter()
                .any(|i| i.name == name && i.foreign_service.is_some())
            {
                return Err(Fail::Bad(format!(
                    "{name} has `ip mobile foreign-service`, and a foreign agent needs a static address; \
                     remove it with `no ip mobile foreign-service` first"
                )));
            }
            let i = self.iface_mut(name);
            i.address = None;
            i.secondary.clear();
            i.dhcp = true;
            return Ok(());
        }
        if neg && c.done() {
            let i = self.iface_mut(name);
            i.address = None;
            i.secondary.clear();
            i.dhcp = false;
            return Ok(());
        }
        let address = c.ipv4("the interface address")?;
        let mask = parse_mask(c)?;
        let secondary = c.eat("secondary");
        c.end_or("`secondary`")?;
        let ia = InterfaceAddress { address, mask };
        if neg {
            let i = self.iface_mut(name);
            if secondary {
                i.secondary.retain(|a| *a != ia);
            } else {
                i.address = None;
                i.secondary.clear();
            }
            return Ok(());
        }
        if mask == Ipv4Addr::UNSPECIFIED {
            return Err(Fail::Bad(format!(
                "bad mask {mask} for an interface address"
            )));
        }
        if address.is_unspecified() || address.is_broadcast() || address.is_multicast() {
            return Err(Fail::Bad(format!(
                "{address} cannot be an interface address"
            )));
        }
        if ia.prefix_len() <= 30 {
            if address == ia.network() {
                return Err(Fail::Bad(format!(
                    "{address} is the network address of {}/{}; use a host address",
                    ia.network(),
                    ia.prefix_len()
                )));
            }
            if address == ia.broadcast() {
                return Err(Fail::Bad(format!(
                    "{address} is the broadcast address of {}/{}; use a host address",
                    ia.network(),
                    ia.prefix_len()
                )));
            }
        }
        let i = self.iface_mut(name);
        if secondary {
            if i.dhcp {
                return Err(Fail::Bad(format!(
                    "{name} takes its address by DHCP; a secondary address needs a static primary one"
                )));
            }
            if i.address.is_none() {
                return Err(Fail::Bad(
                    "configure the primary address before a secondary one".into(),
                ));
            }
            if i.address != Some(ia) && !i.secondary.contains(&ia) {
                i.secondary.push(ia);
            }
        } else {
            i.secondary.retain(|a| *a != ia);
            i.address = Some(ia);
            // A static address replaces `ip address dhcp`, as in IOS.
            i.dhcp = false;
        }
        Ok(())
    }

    /// `ip irdp [multicast | preference N | maxadvertinterval N |
    /// minadvertinterval N | holdtime N]` (IOS; ranges and defaults from
    /// RFC 1256 4.1: max 4-1800 default 600, min 3-max default 0.75 max,
    /// holdtime max-9000 default 3 max).
    pub(super) fn irdp_cmd(&mut self, name: &str, c: &mut Cur, neg: bool) -> Result<(), Fail> {
        let cur = self.iface_mut(name).irdp.clone();
        let mut irdp = cur.clone();
        if c.done() {
            irdp.enabled = !neg;
        } else if c.eat("multicast") {
            c.end()?;
            irdp.multicast = !neg;
        } else if c.eat("preference") {
            if neg {
                c.skip_rest();
                irdp.preference = None;
            } else {
                let w = c
                    .next()
                    .ok_or_else(|| expected("a preference level (a signed number)", None))?;
                let p = w.parse::<i32>().map_err(|_| {
                    expected("a preference level (a signed 32-bit number)", Some(w))
                })?;
                c.end()?;
                irdp.preference = Some(p);
            }
        } else if c.eat("maxadvertinterval") {
            if neg {
                c.skip_rest();
                irdp.max_advert_interval = None;
            } else {
                let v = c.num_u32("maxadvertinterval (seconds)", 4, 1800)?;
                c.end()?;
                irdp.max_advert_interval = Some(v);
            }
        } else if c.eat("minadvertinterval") {
            if neg {
                c.skip_rest();
                irdp.min_advert_interval = None;
            } else {
                let v = c.num_u32("minadvertinterval (seconds)", 3, 1800)?;
                c.end()?;
                irdp.min_advert_interval = Some(v);
            }
        } else if c.eat("holdtime") {
            if neg {
                c.skip_rest();
                irdp.holdtime = None;
            } else {
                let v = c.num_u32("holdtime (seconds)", 4, 9000)?;
                c.end()?;
                irdp.holdtime = Some(v);
            }
        } else {
            return Err(Fail::Bad(expected(
                "`multicast`, `preference N`, `maxadvertinterval N`, `minadvertinterval N`, `holdtime N` \
                 or end of line after ip irdp",
                c.peek(),
            )));
        }
        // RFC 1256 4.1: MinAdvertisementInterval <= MaxAdvertisementInterval
        // <= AdvertisementLifetime.
        let (min, max, hold) = (
            irdp.min_advert_interval(),
            irdp.max_advert_interval(),
            irdp.holdtime(),
        );
        if min > max {
            return Err(Fail::Bad(format!(
                "minadvertinterval {min} would exceed maxadvertinterval {max} (RFC 1256: min <= max)"
            )));
        }
        if hold < max {
            return Err(Fail::Bad(format!(
                "holdtime {hold} would be below maxadvertinterval {max} (RFC 1256: holdtime >= max)"
            )));
        }
        self.iface_mut(name).irdp = irdp;
        Ok(())
    }

    // ----------------------------------------------------------------
    // SSID configuration mode (the Aironet documentation steps 10-11).

    pub(super) fn ssid_cmd(
        &mut self,
        interface: String,
        ssid: String,
        c: &mut Cur,
        neg: bool,
    ) -> Step {
        let here = Mode::Ssid {
            interface: interface.clone(),
            ssid: ssid.clone(),
        };
        let cur = self
            .iface_mut(&interface)
            .ssid(&ssid)
            .cloned()
            .unwrap_or_else(|| Ssid {
                name: ssid.clone(),
                ..Ssid::default()
            });
        let mut new = cur;
        if c.is("ip")
            && c.peek_at(1)
                .is_some_and(|w| w.eq_ignore_ascii_case("proxy-mobile"))
            && c.peek_at(2).is_none()
        {
            c.i += 2;
            if !neg {
                if let Some(v) = new.vlan {
                    return Err(Fail::Bad(format!(
                        "SSID {ssid} has `vlan {v}`, and proxy Mobile IP is not supported on an SSID with a VLAN \
                         (the Aironet documentation); remove it with `no vlan` first"
                    )));
                }
                self.proxy_blocked()?;
            }
            new.proxy_mobile = !neg;
        } else if c.eat("vlan") {
            if neg {
                c.skip_rest();
                new.vlan = None;
            } else {
                let v = c.num("vlan", 1, 4094)? as u16;
                c.end()?;
                if !new.proxy_mobile {
                    // Without VLANs the SSID's stations would land on
                    // BVI1's subnet instead of VLAN v's.
                    return Err(Fail::Bad(format!(
                        "VLANs are not supported: pmip's AP bridges every SSID into BVI1 untagged, so \
                         the stations of SSID {ssid} would not be on VLAN {v}; remove the line"
                    )));
                }
                if new.proxy_mobile {
                    return Err(Fail::Bad(format!(
                        "SSID {ssid} has `ip proxy-mobile`, and proxy Mobile IP is not supported on an SSID with \
                         a VLAN (the Aironet documentation); remove it with `no ip proxy-mobile` first"
                    )));
                }
                new.vlan = Some(v);
            }
        } else {
            return Err(Fail::NotHere);
        }
        let iface = self.iface_mut(&interface);
        match iface.ssids.iter_mut().find(|s| s.name == ssid) {
            Some(s) => *s = new,
            None => iface.ssids.push(new),
        }
        Ok(here)
    }
}

/// The access list of `home-access ACL`: a standard list's number, or a
/// name (IOS takes both; pmip configures no named lists, so a name
/// restricts nothing and [`Config::warnings`] says so).
fn home_access_acl(c: &mut Cur) -> Result<String, Fail> {
    const WHAT: &str = "a standard access list number (1-99, 1300-1999) or name after home-access";
    let w = c.peek().ok_or_else(|| expected(WHAT, None))?;
    if w.bytes().all(|b| b.is_ascii_digit()) {
        // The home agent address is matched, as a standard list's source.
        if !w.parse().is_ok_and(is_standard_acl_number) {
            return Err(Fail::Bad(format!(
                "home-access takes a standard access list (1-99, 1300-1999), found {w}"
            )));
        }
    } else if !w.as_bytes()[0].is_ascii_alphabetic() {
        return Err(Fail::Bad(expected(WHAT, Some(w))));
    }
    c.i += 1;
    Ok(w.to_string())
}
