//! Operator commands (docs/operator-interface.md): `show`, `clear`,
//! `refresh` and `configure`, parsed and validated here; errors are one
//! line, IOS style. What a command asks of the roles comes out of
//! [`Node::poll_output`] like everything else.

use crate::{Node, cli, show};
use pmip_config::Mode;
use pmip_engine::time::Now;
use serde::Serialize;
use std::net::Ipv4Addr;

const NO_PROXY: &str = "% Proxy Mobile IP is not enabled (ip proxy-mobile enable)";
const NO_HA: &str = "% Mobile IP home agent is not enabled (router mobile; ip mobile home-agent)";
const NO_MOBILE: &str = "% Mobile IP is not enabled (router mobile)";
const NO_FA: &str = "% Mobile IP foreign agent is not enabled (router mobile; ip mobile foreign-agent; ip mobile foreign-service)";

/// The view as JSON, or as IOS text.
fn render<T: Serialize>(view: &T, json: bool, text: impl FnOnce(&T) -> String) -> String {
    if json {
        serde_json::to_string(view).unwrap_or_default()
    } else {
        text(view)
    }
}

/// The optional address after `clear ip mobile binding|visitor`: one
/// home address, or every entry with nothing or `all`.
fn clear_target(rest: &[&str]) -> Result<Option<Ipv4Addr>, String> {
    match rest {
        [] | ["all"] => Ok(None),
        [a] => a
            .parse()
            .map(Some)
            .map_err(|_| format!("% Invalid input: \"{a}\" (expected a home address or `all`)")),
        _ => Err("% Invalid input: expected `all` or one home address".into()),
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

impl Node {
    /// Runs one EXEC command. `Ok` is its output (JSON when `json`),
    /// `Err` a one-line refusal.
    /// Keywords may be abbreviated and written in any case, as in IOS;
    /// `?` lists what may follow.
    pub fn exec(&mut self, now: Now, words: &[String], json: bool) -> Result<String, String> {
        let words = match cli::parse(words)? {
            cli::Parsed::Command(c) => c,
            cli::Parsed::Help(h) => return Ok(h),
        };
        let w: Vec<&str> = words.iter().map(String::as_str).collect();
        let at = now.instant;
        match w.as_slice() {
            ["show", "running-config"] => Ok(self.running_config(false, json)),
            ["show", "dhcp", "lease"] => self.show_dhcp_lease(at, json),
            // The operator asks for the keys explicitly.
            ["show", "running-config", "keys"] => Ok(self.running_config(true, json)),
            ["configure", rest @ ..] if !rest.is_empty() => self.configure(now, &rest.join(" ")),
            ["write", "memory"] | ["copy", "running-config", "startup-config"] => {
                self.out.push_back(crate::Output::SaveConfig {
                    text: self.config.running_config(true),
                });
                Ok("Building configuration...\n".into())
            }
            ["show", "startup-config"] => self.startup_config(json),
            ["show", "version"] => Ok(render(&self.version_view(at), json, show::version)),
            ["show", "ip", "proxy-mobile", "subnet-table"] => self
                .subnet_table_view(at)
                .map(|v| render(&v, json, show::subnet_table))
                .ok_or_else(|| NO_PROXY.into()),
            ["show", "ip", "proxy-mobile", "station-table"] => self
                .station_table_view(at)
                .map(|v| render(&v, json, show::station_table))
                .ok_or_else(|| NO_PROXY.into()),
            // The Subnet Table page's Refresh: ask the AAP again.
            ["refresh", "ip", "proxy-mobile", "subnet-table"] => {
                self.exchange.refresh(now).map_err(exchange_off)?;
                self.exchange_turn(now);
                Ok("Asking the AAP for the subnet map table\n".into())
            }
            // "To rebuild the subnet table, clear it": the AAP sends it
            // again.
            ["clear", "ip", "proxy-mobile", "subnet-table"] => {
                self.exchange.clear(now).map_err(exchange_off)?;
                self.exchange_turn(now);
                Ok("Subnet map table cleared; rebuilding it from the AAP\n".into())
            }
            ["clear", "ip", "mobile", "binding", rest @ ..] => {
                let which = clear_target(rest)?;
                let n = self
                    .mobility
                    .clear_bindings(which, &mut self.out)
                    .ok_or(NO_HA)?;
                Ok(format!("{n} mobility binding{} cleared\n", plural(n)))
            }
            ["clear", "ip", "mobile", "visitor", rest @ ..] => {
                let which = clear_target(rest)?;
                let n = self
                    .mobility
                    .clear_visitors(which, &mut self.out)
                    .ok_or("% Mobile IP foreign agent is not enabled")?;
                Ok(format!("{n} visitor{} cleared\n", plural(n)))
            }
            ["debug" | "undebug" | "no", ..] => self.debug_command(now, &w),
            ["show", "debugging"] => {
                let d = &self.debug;
                let view = crate::snapshot::Debugging {
                    mobile: d.mobile,
                    advertise: d.advertise,
                    host: d.host.as_ref().map(|h| h.to_string()),
                    local_area: d.local_area,
                    redundancy: d.redundancy,
                    proxy_mobile: d.proxy,
                };
                Ok(render(&view, json, |_| d.describe()))
            }
            ["show", "ip", "mobile", "binding", "summary"] => self
                .binding_summary_view()
                .map(|v| render(&v, json, show::binding_summary))
                .ok_or_else(|| NO_HA.into()),
            ["show", "ip", "mobile", "globals"] => self
                .globals_view()
                .map(|v| render(&v, json, show::globals))
                .ok_or_else(|| NO_MOBILE.into()),
            ["show", "ip", "mobile", "interface"] => self
                .interfaces_view()
                .map(|v| render(&v, json, show::interfaces))
                .ok_or_else(|| NO_MOBILE.into()),
            ["show", "ip", "mobile", "host", rest @ ..] => {
                let which = match rest {
                    [] => None,
                    [a] => Some(a.parse::<Ipv4Addr>().map_err(|_| {
                        format!("% Invalid input: \"{a}\" (expected a home address)")
                    })?),
                    _ => return Err("% Invalid input: expected one home address".into()),
                };
                self.hosts_view(at, which)
                    .map(|v| render(&v, json, show::hosts))
                    .ok_or_else(|| NO_HA.into())
            }
            ["show", "ip", "mobile", "tunnel"] => self
                .tunnels_view()
                .map(|v| render(&v, json, show::tunnels))
                .ok_or_else(|| NO_MOBILE.into()),
            ["show", "ip", "mobile", "violation"] => self
                .violations_view(at)
                .map(|v| render(&v, json, show::violations))
                .ok_or_else(|| NO_MOBILE.into()),
            ["show", "ip", "mobile", "visitor", "pending"] => self
                .pending_view(at)
                .map(|v| render(&v, json, show::pending))
                .ok_or_else(|| NO_FA.into()),
            ["clear", "ip", "mobile", "traffic"] => {
                if !self.mobility.clear_counters() {
                    return Err(NO_MOBILE.into());
                }
                // The data plane's counters only grow: show counts from
                // what they are now.
                self.tunnel_base = self.tunnel.clone();
                Ok(String::new())
            }
            ["show", "ip", "mobile", "binding"] => self
                .bindings_view(at)
                .map(|v| render(&v, json, show::bindings))
                .ok_or_else(|| NO_HA.into()),
            ["show", "ip", "mobile", "traffic"] => self
                .traffic_view()
                .map(|v| render(&v, json, show::traffic))
                .ok_or_else(|| "% Mobile IP is not enabled".into()),
            ["show", "ip", "proxy-mobile"] => self
                .proxy_view()
                .map(|v| render(&v, json, show::proxy_status))
                .ok_or_else(|| NO_PROXY.into()),
            ["show", "ip", "proxy-mobile", "secure" | "sa-binding"] => Ok(render(
                &self.proxy_secure_view(at),
                json,
                show::proxy_secure,
            )),
            ["show", "ip", "proxy-mobile", "visitor"] => self
                .proxy_visitors_view(at)
                .map(|v| render(&v, json, show::proxy_visitors))
                .ok_or_else(|| NO_PROXY.into()),
            ["show", "ip", "mobile", "visitor"] => self
                .visitors_view(at)
                .map(|v| render(&v, json, show::visitors))
                .ok_or_else(|| NO_FA.into()),
            ["show", "ip", "mobile", "secure", "host"] | ["show", "ip", "mobile", "secure"] => Ok(
                render(&self.secure_hosts_view(at), json, show::secure_hosts),
            ),
            _ => Err(format!("% Invalid input: \"{}\"", words.join(" "))),
        }
    }

    /// `debug ip mobile [advertise | host ADDR | local-area | redundancy]`,
    /// `debug ip proxy-mobile`, their `no debug` / `undebug` forms and
    /// `undebug all`: the trace lines come out of [`Node::poll_debug`].
    fn debug_command(&mut self, now: Now, w: &[&str]) -> Result<String, String> {
        let (on, rest) = match w {
            ["debug", rest @ ..] => (true, rest),
            ["undebug", rest @ ..] | ["no", "debug", rest @ ..] => (false, rest),
            _ => return Err(format!("% Invalid input: \"{}\"", w.join(" "))),
        };
        self.debug_now = Some(now);
        let d = &mut self.debug;
        let what = match rest {
            ["all"] if !on => {
                d.off();
                return Ok("All possible debugging has been turned off\n".into());
            }
            ["ip", "mobile"] => {
                d.mobile = on;
                "Mobile IP"
            }
            ["ip", "mobile", "advertise"] => {
                d.advertise = on;
                "Mobile IP agent advertisement"
            }
            ["ip", "mobile", "host", rest @ ..] => {
                d.host = match (on, rest) {
                    (true, [a]) => Some(match a.parse() {
                        Ok(addr) => crate::mobility::HostFilter::Address(addr),
                        // A standard access list, by number (IOS 1-99,
                        // 1300-1999).
                        Err(_) if a.parse().is_ok_and(pmip_config::is_standard_acl_number) => {
                            crate::mobility::HostFilter::acl(a, &self.config)
                        }
                        Err(_) => {
                            return Err(format!(
                                "% Invalid input: \"{}\" (expected a home address or a standard access list number)",
                                a.chars().take(40).collect::<String>()
                            ));
                        }
                    }),
                    (false, _) => None,
                    _ => {
                        return Err(
                            "% Incomplete command: debug ip mobile host {A.B.C.D | ACL}".into()
                        );
                    }
                };
                "Mobile IP host"
            }
            ["ip", "mobile", "local-area"] => {
                d.local_area = on;
                "Mobile IP local area"
            }
            ["ip", "mobile", "redundancy"] => {
                d.redundancy = on;
                "Mobile IP redundancy"
            }
            ["ip", "proxy-mobile"] => {
                d.proxy = on;
                "Proxy Mobile IP"
            }
            _ => return Err(format!("% Invalid input: \"{}\"", w.join(" "))),
        };
        Ok(format!(
            "{what} debugging is {}\n",
            if on { "on" } else { "off" }
        ))
    }

    /// `show startup-config`, keys masked like the running one's.
    fn startup_config(&self, json: bool) -> Result<String, String> {
        let text = self
            .startup
            .as_deref()
            .ok_or("% No startup configuration (the device was not started from a file)")?;
        let masked = match pmip_config::Config::parse(text) {
            Ok(c) => c.running_config(false),
            Err(e) => format!("! does not parse: {e}\n"),
        };
        Ok(if json {
            serde_json::json!({ "startup_config": masked }).to_string()
        } else {
            masked
        })
    }

    fn running_config(&self, keys: bool, json: bool) -> String {
        let text = self.config.running_config(keys);
        if json {
            serde_json::json!({ "running_config": text }).to_string()
        } else {
            text
        }
    }

    /// `configure LINE[; LINE...]`: applies lines as `configure terminal`
    /// would, starting in global mode. All or nothing: a refused line
    /// leaves the running configuration as it was.
    fn configure(&mut self, now: Now, text: &str) -> Result<String, String> {
        let mut candidate = self.config.clone();
        let mut mode = Mode::Global;
        for (i, line) in text.split([';', '\n']).enumerate() {
            candidate
                .apply_line_numbered(&mut mode, line, i + 1)
                .map_err(|e| e.to_string())?;
        }
        let exchange_changed = {
            let (old, new) = (&self.config.proxy_mobile, &candidate.proxy_mobile);
            old.aaps != new.aaps
                || old.aap_key != new.aap_key
                || crate::config::proxy_ap(&self.lease_config(&self.config)).own_address
                    != crate::config::proxy_ap(&self.lease_config(&candidate)).own_address
        };
        self.config = candidate;
        self.mobility.set_config(&self.config);
        self.debug.refresh(&self.config);
        let effective = self.lease_config(&self.config);
        if let Some(ap) = &mut self.ap {
            ap.set_config(now, &effective, self.exchange.table(), &mut self.out);
        }
        // A new AAP list, key or address of our own: the exchange starts
        // again with it (joins its AAP, which hands it the table).
        if exchange_changed {
            self.restart_exchange(now);
        }
        // `ip address dhcp` added or removed.
        self.dhcp_follow(now, None);
        Ok(String::new())
    }
}

fn exchange_off(reason: String) -> String {
    format!("% Subnet map exchange is off: {reason}")
}
