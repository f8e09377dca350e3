//! Global configuration mode: hostname, routes, `ip http`, usernames,
//! `aaa` and `radius-server`.

use super::*;

impl Config {
    // ----------------------------------------------------------------
    // Global configuration mode.

    pub(super) fn global(&mut self, c: &mut Cur, neg: bool) -> Step {
        let here = Mode::Global;
        if c.eat("hostname") {
            if neg {
                self.hostname = None;
                return Ok(here);
            }
            let name = c.next().ok_or_else(|| expected("a host name", None))?;
            if !valid_hostname(name) {
                return Err(Fail::Bad(format!(
                    "expected a host name of letters, digits and hyphens, starting with a letter, \
                     at most 63 characters, found \"{name}\""
                )));
            }
            c.end()?;
            self.hostname = Some(name.to_string());
            return Ok(here);
        }
        if c.eat("interface") {
            // Every remaining word is the name (`fastethernet 0`).
            let words: Vec<&str> = c.remaining().iter().map(|w| w.1).collect();
            let name = ifname::normalize(&words)?;
            c.skip_rest();
            if neg {
                self.interfaces.retain(|i| i.name != name);
                return Ok(here);
            }
            self.iface_index_or_create(&name);
            return Ok(Mode::Interface(name));
        }
        if c.eat("router") {
            c.expect(
                "mobile",
                "`mobile` after router (the only routing process here)",
            )?;
            c.end()?;
            self.mobile.router_mobile = !neg;
            return Ok(if neg { here } else { Mode::RouterMobile });
        }
        if c.eat("aaa") {
            self.aaa_cmd(c, neg)?;
            return Ok(here);
        }
        if c.eat("radius-server") {
            self.radius_cmd(c, neg)?;
            return Ok(here);
        }
        if c.eat("username") {
            self.username_cmd(c, neg)?;
            return Ok(here);
        }
        if c.eat("access-list") {
            self.access_list_cmd(c, neg)?;
            return Ok(here);
        }
        if !c.eat("ip") {
            return Err(Fail::NotHere);
        }
        if c.eat("access-list") {
            return Err(Fail::Bad(
                "named access lists (`ip access-list`) are not supported; use a numbered standard list, \
                 `access-list N {permit | deny} ...` with N 1-99 or 1300-1999"
                    .into(),
            ));
        }
        if c.eat("route") {
            self.route_cmd(c, neg)?;
            return Ok(here);
        }
        if c.eat("default-gateway") {
            if neg {
                self.default_gateway = None;
                return Ok(here);
            }
            let gw = c.ipv4("the gateway address")?;
            c.end()?;
            self.default_gateway = Some(gw);
            return Ok(here);
        }
        if c.eat("mobile") {
            self.ip_mobile_global(c, neg)?;
            return Ok(here);
        }
        if c.eat("proxy-mobile") {
            self.proxy_global(c, neg)?;
            return Ok(here);
        }
        if c.eat("http") {
            self.http_cmd(c, neg)?;
            return Ok(here);
        }
        Err(Fail::NotHere)
    }

    /// `ip http server | port N | authentication local` (IOS HTTP server
    /// commands). HTTPS is refused with the reason; its `no`
    /// forms are accepted, as IOS configurations often carry them.
    pub(super) fn http_cmd(&mut self, c: &mut Cur, neg: bool) -> Result<(), Fail> {
        if c.eat("server") {
            c.end()?;
            self.http.server = !neg;
            return Ok(());
        }
        if c.eat("port") {
            self.http.port = if neg {
                c.skip_rest();
                None
            } else {
                let p = c.num("port", 1, 65535)? as u16;
                c.end()?;
                Some(p)
            };
            return Ok(());
        }
        if c.eat("authentication") {
            if neg {
                c.skip_rest();
                self.http.authentication_local = false;
                return Ok(());
            }
            if c.eat("local") {
                c.end()?;
                self.http.authentication_local = true;
                return Ok(());
            }
            return Err(Fail::Bad(expected(
                "`local` after ip http authentication (the `username` lines; enable and aaa are not supported)",
                c.peek(),
            )));
        }
        if c.is("secure-server")
            || c.is("secure-port")
            || c.is("secure-trustpoint")
            || c.is("secure-certificate")
            || c.is("secure-key")
        {
            if neg {
                c.skip_rest();
                return Ok(());
            }
            return Err(Fail::Bad(
                "HTTPS is not supported by pmip's web server; use `ip http server` on a management \
                 network, or put a TLS reverse proxy in front of it"
                    .into(),
            ));
        }
        Err(Fail::Bad(expected(
            "`server`, `port N` or `authentication local` after ip http",
            c.peek(),
        )))
    }

    /// `username NAME [privilege N] {password [0] TEXT | secret [0] TEXT |
    /// secret 9 HASH | algorithm-type scrypt secret TEXT}`. A clear-text
    /// secret is stored as its IOS type 9 (scrypt) hash; a password stays
    /// in clear and is masked when shown. The text is the rest of the
    /// line, as IOS reads it.
    pub(super) fn username_cmd(&mut self, c: &mut Cur, neg: bool) -> Result<(), Fail> {
        let name = c
            .next()
            .ok_or_else(|| expected("a user name", None))?
            .to_string();
        if name.len() > 64 || !name.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(Fail::Bad(format!(
                "a user name is 1 to 64 printable characters without spaces, found \"{name}\""
            )));
        }
        if neg {
            c.skip_rest();
            self.usernames.retain(|u| u.name != name);
            return Ok(());
        }
        let mut privilege = None;
        if c.eat("privilege") {
            privilege = Some(c.num("privilege", 0, 15)? as u8);
        }
        let mut scrypt_asked = false;
        if c.eat("algorithm-type") {
            if !c.eat("scrypt") {
                return Err(Fail::Bad(expected(
                    "`scrypt` after algorithm-type (the only hash pmip computes)",
                    c.peek(),
                )));
            }
            scrypt_asked = true;
            if !c.is("secret") {
                return Err(Fail::Bad(expected(
                    "`secret` after algorithm-type scrypt",
                    c.peek(),
                )));
            }
        }
        let secret = if c.eat("secret") {
            true
        } else if c.eat("password") {
            false
        } else {
            return Err(Fail::Bad(expected(
                "`privilege N`, `password` or `secret` after the user name",
                c.peek(),
            )));
        };
        let what = if secret { "secret" } else { "password" };
        // An optional encryption type word, then the rest of the line.
        let typ = match c.peek() {
            Some(t @ ("0" | "5" | "7" | "8" | "9")) if c.peek_at(1).is_some() => {
                c.i += 1;
                t
            }
            _ => "0",
        };
        let text = c.rest();
        if text.is_empty() {
            return Err(Fail::Bad(expected(
                &format!("the {what} after {what}"),
                None,
            )));
        }
        if text == MASK {
            return Err(Fail::Bad(format!(
                "the {what} is masked (********); copy the configuration from `show running-config keys`"
            )));
        }
        c.skip_rest();
        let credential = match (secret, typ) {
            (_, "0") if secret || scrypt_asked => Credential::secret(text),
            (false, "0") => Credential::Password(text.to_string()),
            (true, "9") if !scrypt_asked => {
                if !crate::model::secret::well_formed(text) {
                    return Err(Fail::Bad(
                        "a type 9 secret is `$9$` + 14 salt characters + `$` + 43 hash characters \
                         (./0-9A-Za-z), as IOS prints it"
                            .into(),
                    ));
                }
                Credential::Secret(text.to_string())
            }
            (_, t) => {
                return Err(Fail::Bad(format!(
                    "{what} type {t} is not supported; give `secret 0 TEXT` (stored as a type 9 \
                     scrypt hash), `secret 9 HASH` or `password 0 TEXT`"
                )));
            }
        };
        let user = Username {
            name: name.clone(),
            privilege,
            credential,
        };
        match self.usernames.iter_mut().find(|u| u.name == name) {
            Some(u) => *u = user,
            None => self.usernames.push(user),
        }
        Ok(())
    }

    /// `ip route PREFIX MASK {NEXTHOP | IF [NEXTHOP]}`.
    pub(super) fn route_cmd(&mut self, c: &mut Cur, neg: bool) -> Result<(), Fail> {
        let prefix = c.ipv4("the destination prefix")?;
        let mask = parse_mask(c)?;
        if u32::from(prefix) & !u32::from(mask) != 0 {
            return Err(Fail::Bad(format!(
                "inconsistent address and mask: {prefix} has bits outside {mask}"
            )));
        }
        if neg && c.done() {
            self.routes
                .retain(|r| !(r.prefix == prefix && r.mask == mask));
            return Ok(());
        }
        let (interface, next_hop) = match c.peek_ipv4() {
            Some(nh) => {
                c.i += 1;
                (None, Some(nh))
            }
            None => {
                if c.done() {
                    return Err(Fail::Bad(expected(
                        "a next-hop address or an interface",
                        None,
                    )));
                }
                if c.peek()
                    .is_some_and(|w| w.bytes().all(|b| b.is_ascii_digit()))
                {
                    return Err(Fail::Bad(expected(
                        "a next-hop address or an interface",
                        c.peek(),
                    )));
                }
                let ifname = c.ifname()?;
                let nh = c.peek_ipv4();
                if nh.is_some() {
                    c.i += 1;
                }
                (Some(ifname), nh)
            }
        };
        if c.peek()
            .is_some_and(|w| w.bytes().all(|b| b.is_ascii_digit()))
        {
            // The kernel's table takes the route as it is: there are no
            // routes from other sources, nor floating statics, to rank.
            return Err(Fail::Bad(
                "an administrative distance is not supported (static routes go into the kernel's table \
                 as they are); remove it"
                    .into(),
            ));
        }
        c.end()?;
        let route = StaticRoute {
            prefix,
            mask,
            interface,
            next_hop,
        };
        let same = |r: &StaticRoute| {
            r.prefix == route.prefix
                && r.mask == route.mask
                && r.interface == route.interface
                && r.next_hop == route.next_hop
        };
        if neg {
            self.routes.retain(|r| !same(r));
            return Ok(());
        }
        match self.routes.iter_mut().find(|r| same(r)) {
            Some(r) => *r = route,
            None => self.routes.push(route),
        }
        Ok(())
    }

    /// `access-list N {permit | deny} {A [WILDCARD] | host A | any}` and
    /// `access-list N remark TEXT` (IOS standard IP access lists, N 1-99
    /// or 1300-1999): each line appends an entry to list N; `no
    /// access-list N` removes the list.
    pub(super) fn access_list_cmd(&mut self, c: &mut Cur, neg: bool) -> Result<(), Fail> {
        const WHAT: &str = "a standard access list number (1-99, 1300-1999)";
        let w = c.peek().ok_or_else(|| expected(WHAT, None))?;
        if w.is_empty() || !w.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Fail::Bad(expected(WHAT, Some(w))));
        }
        let n = w.parse::<u32>().unwrap_or(u32::MAX);
        if !is_standard_acl_number(n) {
            return Err(Fail::Bad(
                if (100..=199).contains(&n) || (2000..=2699).contains(&n) {
                    format!(
                        "access list {w} would be an extended list, which is not supported; use a standard \
                     list (1-99, 1300-1999)"
                    )
                } else {
                    format!(
                        "access list {w} is not a standard IP access list; use 1-99 or 1300-1999"
                    )
                },
            ));
        }
        c.i += 1;
        let number = n as u16;
        if neg {
            if !c.done() {
                // IOS would drop the whole list for `no access-list N
                // permit ...`: say so rather than surprise.
                return Err(Fail::Bad(format!(
                    "`no access-list {number} ...` removes the whole list in IOS, not one entry; give \
                     `no access-list {number}` to remove it"
                )));
            }
            self.access_lists.retain(|l| l.number != number);
            return Ok(());
        }
        let entry = if c.eat("remark") {
            let text = c.rest();
            if text.is_empty() {
                return Err(Fail::Bad(expected("the remark text", None)));
            }
            if text.chars().count() > 100 {
                return Err(Fail::Bad(format!(
                    "a remark is at most 100 characters (IOS), found {}",
                    text.chars().count()
                )));
            }
            c.skip_rest();
            AclEntry::Remark(text.to_string())
        } else if c.eat("permit") {
            AclEntry::Permit(acl_source(c)?)
        } else if c.eat("deny") {
            AclEntry::Deny(acl_source(c)?)
        } else {
            return Err(Fail::Bad(expected(
                "`permit`, `deny` or `remark` after the access list number",
                c.peek(),
            )));
        };
        match self
            .access_lists
            .binary_search_by_key(&number, |l| l.number)
        {
            Ok(i) => self.access_lists[i].entries.push(entry),
            Err(i) => self.access_lists.insert(
                i,
                AccessList {
                    number,
                    entries: vec![entry],
                },
            ),
        }
        Ok(())
    }

    /// `aaa new-model`, `aaa authorization ipmobile ...` (IOS
    /// `aaa authorization ipmobile {[radius | tacacs+] | default} [group
    /// server-groupname]`).
    pub(super) fn aaa_cmd(&mut self, c: &mut Cur, neg: bool) -> Result<(), Fail> {
        if c.eat("new-model") {
            c.end()?;
            self.aaa.new_model = !neg;
            return Ok(());
        }
        if c.eat("authorization") {
            c.expect(
                "ipmobile",
                "`ipmobile` (the only authorization here) after aaa authorization",
            )?;
            if neg {
                self.aaa.authorization_ipmobile = None;
                c.skip_rest();
                return Ok(());
            }
            let list = if c.eat("default") {
                "default"
            } else if c.eat("radius") {
                "radius"
            } else if c.is("tacacs+") {
                return Err(Fail::Bad("TACACS+ is not supported; use RADIUS".into()));
            } else {
                return Err(Fail::Bad(expected("`default` or `radius`", c.peek())));
            };
            let group = if c.eat("group") {
                let g = c
                    .next()
                    .ok_or_else(|| expected("a server group name after group", None))?;
                if !g.eq_ignore_ascii_case("radius") {
                    return Err(Fail::Bad(format!(
                        "only `group radius` is supported (the `radius-server host` list), found \"{g}\""
                    )));
                }
                Some("radius".to_string())
            } else {
                None
            };
            c.end()?;
            self.aaa.authorization_ipmobile = Some(AaaAuthorization {
                list: list.to_string(),
                group,
            });
            return Ok(());
        }
        Err(Fail::Bad(expected(
            "`new-model` or `authorization ipmobile` after aaa",
            c.peek(),
        )))
    }

    /// `radius-server host|timeout|retransmit|key` (IOS RADIUS
    /// commands, where `key` takes the rest of the line).
    pub(super) fn radius_cmd(&mut self, c: &mut Cur, neg: bool) -> Result<(), Fail> {
        if c.eat("host") {
            let address = c.ipv4("the RADIUS server address")?;
            if neg {
                self.aaa.radius_servers.retain(|s| s.address != address);
                c.skip_rest();
                return Ok(());
            }
            let mut server = RadiusServer {
                address,
                auth_port: DEFAULT_RADIUS_AUTH_PORT,
                acct_port: DEFAULT_RADIUS_ACCT_PORT,
                timeout: None,
                retransmit: None,
                key: None,
            };
            while !c.done() {
                if c.eat("auth-port") {
                    server.auth_port = c.num("auth-port", 1, 65535)? as u16;
                } else if c.eat("acct-port") {
                    server.acct_port = c.num("acct-port", 1, 65535)? as u16;
                } else if c.eat("timeout") {
                    server.timeout = Some(c.num_u32("timeout (seconds)", 1, 1000)?);
                } else if c.eat("retransmit") {
                    server.retransmit = Some(c.num_u32("retransmit", 0, 100)?);
                } else if c.eat("key") {
                    server.key = Some(radius_secret(c)?);
                } else {
                    c.end_or(
                        "`auth-port N`, `acct-port N`, `timeout N`, `retransmit N`, `key SECRET`",
                    )?;
                }
            }
            match self
                .aaa
                .radius_servers
                .iter_mut()
                .find(|s| s.address == address)
            {
                Some(s) => *s = server,
                None => self.aaa.radius_servers.push(server),
            }
            return Ok(());
        }
        if c.eat("timeout") {
            self.aaa.radius_timeout = if neg {
                c.skip_rest();
                None
            } else {
                let t = c.num_u32("timeout (seconds)", 1, 1000)?;
                c.end()?;
                Some(t)
            };
            return Ok(());
        }
        if c.eat("retransmit") {
            self.aaa.radius_retransmit = if neg {
                c.skip_rest();
                None
            } else {
                let t = c.num_u32("retransmit", 0, 100)?;
                c.end()?;
                Some(t)
            };
            return Ok(());
        }
        if c.eat("key") {
            self.aaa.radius_key = if neg {
                c.skip_rest();
                None
            } else {
                Some(radius_secret(c)?)
            };
            return Ok(());
        }
        Err(Fail::Bad(expected(
            "`host`, `timeout`, `retransmit` or `key` after radius-server",
            c.peek(),
        )))
    }
}

/// A standard entry's source, `{A [WILDCARD] | host A | any}`, then the
/// end of the line.
fn acl_source(c: &mut Cur) -> Result<AclSource, Fail> {
    let source = if c.eat("any") {
        AclSource::ANY
    } else if c.eat("host") {
        AclSource::host(c.ipv4("the host address after host")?)
    } else {
        let Some(address) = c.peek_ipv4() else {
            return Err(Fail::Bad(expected(
                "a source address (A [WILDCARD]), `host A` or `any`",
                c.peek(),
            )));
        };
        c.i += 1;
        match c.peek_ipv4() {
            Some(wildcard) => {
                c.i += 1;
                AclSource::new(address, wildcard)
            }
            None => AclSource::host(address),
        }
    };
    if c.is("log") || c.is("log-input") {
        return Err(Fail::Bad(
            "`log` is not supported: pmip logs no access list matches; remove it".into(),
        ));
    }
    c.end()?;
    Ok(source)
}
