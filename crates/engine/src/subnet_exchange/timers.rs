//! The exchange's timers: keepalives, retransmissions, failover, the
//! AAPs' digests, member expiry and probes.

use super::*;

impl SubnetExchange {
    pub fn poll_timeout(&self) -> Option<Instant> {
        if !self.started {
            return None;
        }
        let t = &self.config.timers;
        let mut next: Option<Instant> = None;
        let mut at = |i: Instant| {
            next = Some(next.map_or(i, |n| n.min(i)));
        };
        for l in self.links.values() {
            for f in l.in_flight.values() {
                at(f.sent + self.backoff(f.tries));
            }
        }
        if let Some(d) = self.join_deadline() {
            at(d);
        }
        if let Some(k) = self.next_keepalive {
            at(k);
        }
        if self.is_aap {
            if !self.synced {
                at(self.start_time + t.sync_wait);
            }
            at(self.next_digest);
            for p in self.peers.values() {
                if let Some(s) = &p.sync {
                    at(s.last_sent + self.backoff(s.tries));
                }
                if p.alive {
                    at(p.last_heard + t.peer_expiry);
                }
            }
            let own = self.config.own_address;
            if let Some(m) = self
                .members
                .iter()
                .filter(|(a, _)| **a != own)
                .map(|(_, m)| m.last_heard)
                .min()
            {
                at(m + t.ap_expiry);
            }
            for p in self.probes.values() {
                at(p.due());
            }
        }
        if let Some(c) = self
            .table
            .values()
            .filter(|e| e.deleted)
            .map(|e| e.changed)
            .min()
        {
            at(c + t.tombstone);
        }
        if let Some(s) = self.partials.values().map(|p| p.started).min() {
            at(s + t.reassembly);
        }
        for d in self.station_deadlines().into_iter().flatten() {
            at(d);
        }
        next
    }

    pub fn handle_timeout(&mut self, now: Now, out: &mut Vec<Action>) {
        if !self.started {
            return;
        }
        let t = self.config.timers.clone();
        self.retransmit(now, out);
        if !self.is_aap {
            if self.join_deadline().is_some_and(|d| now.instant >= d) {
                let exhausted = self.join.as_ref().is_some_and(|j| j.tries >= t.tries);
                if exhausted {
                    // The Aironet documentation: "it tries the next configured AAP" (and,
                    // after the last, the first again).
                    self.counters.failovers += 1;
                    self.current = (self.current + 1) % self.aaps.len().max(1);
                    self.join = None;
                    tracing::info!(aap = ?self.aaps.get(self.current), "subnet exchange: AAP does not answer, trying the next");
                    self.start_join(now, true, out);
                } else {
                    self.join_attempt(now, out);
                }
            }
            if self.next_keepalive.is_some_and(|k| now.instant >= k) {
                self.start_join(now, false, out);
            }
        } else {
            self.aap_timers(now, &t, out);
        }
        self.table
            .retain(|_, e| !(e.deleted && now.instant >= e.changed + t.tombstone));
        let expired: Vec<PartialKey> = self
            .partials
            .iter()
            .filter(|(_, p)| now.instant >= p.started + t.reassembly)
            .map(|(k, _)| *k)
            .collect();
        for k in expired {
            self.partials.remove(&k);
            self.partial_lost(k.kind);
        }
        self.station_timers(now, out);
        self.finish(now, out);
    }

    pub(super) fn retransmit(&mut self, now: Now, out: &mut Vec<Action>) {
        let tries = self.config.timers.tries;
        let mut due: Vec<(Ipv4Addr, u32)> = Vec::new();
        for (to, l) in &self.links {
            for (seq, f) in &l.in_flight {
                if now.instant >= f.sent + self.backoff(f.tries) {
                    due.push((*to, *seq));
                }
            }
        }
        due.sort();
        for (to, seq) in due {
            let Some(l) = self.links.get_mut(&to) else {
                continue;
            };
            let Some(f) = l.in_flight.get_mut(&seq) else {
                continue;
            };
            if f.tries >= tries {
                l.in_flight.remove(&seq);
                self.counters.gave_up += 1;
                // The Aironet documentation: "if an AP is unreachable during this update
                // process, the AAP retries"; after the last try it sends
                // that AP the whole table at its next Join.
                if let Some(m) = self.members.get_mut(&to) {
                    m.needs_full = true;
                }
            } else {
                f.tries += 1;
                f.sent = now.instant;
                let datagram = f.datagram.clone();
                self.counters.retransmissions += 1;
                self.counters.sent += 1;
                out.push(Action::Send { to, datagram });
            }
        }
    }

    pub(super) fn aap_timers(&mut self, now: Now, t: &Timers, out: &mut Vec<Action>) {
        if !self.synced && now.instant >= self.start_time + t.sync_wait {
            self.set_synced(now, out);
        }
        // SyncRequest retransmissions: each a new message.
        let due: Vec<(Ipv4Addr, u8)> = self
            .peers
            .iter()
            .filter_map(|(a, p)| {
                p.sync
                    .as_ref()
                    .filter(|s| now.instant >= s.last_sent + self.backoff(s.tries))
                    .map(|s| (*a, s.tries))
            })
            .collect();
        for (peer, tries) in due {
            if tries >= t.tries {
                if let Some(p) = self.peers.get_mut(&peer) {
                    p.sync = None;
                }
                self.counters.gave_up += 1;
                if self.peers.values().all(|p| p.sync.is_none()) {
                    // Nobody answered: we are the first AAP up.
                    self.set_synced(now, out);
                }
            } else {
                self.counters.retransmissions += 1;
                self.start_sync(now, peer, out);
            }
        }
        if now.instant >= self.next_digest {
            self.next_digest = now.instant + t.digest;
            let digest = self.digest();
            let entries = self.table.values().filter(|e| e.live()).count() as u32;
            let peers: Vec<Ipv4Addr> = self.peers.keys().copied().collect();
            for p in peers {
                self.send_once(p, Message::Digest { digest, entries }, out);
            }
        }
        // APs gone silent leave every entry they were in.
        let own = self.config.own_address;
        let silent: Vec<Ipv4Addr> = self
            .members
            .iter()
            .filter(|(a, m)| **a != own && now.instant >= m.last_heard + t.ap_expiry)
            .map(|(a, _)| *a)
            .collect();
        for ap in silent {
            self.members.remove(&ap);
            self.counters.aps_expired += 1;
            // Forget its replay window too: an AP that restarted with an
            // older epoch (its clock went back) is heard again from now.
            self.windows.remove(&ap);
            self.partials.retain(|k, _| k.sender != ap);
            self.forget_station_sender(ap);
            if let Some(l) = self.links.get_mut(&ap) {
                l.forget_queued();
            }
            let entries: Vec<Ipv4Addr> = self
                .table
                .iter()
                .filter(|(_, e)| e.live() && e.aps.contains(&ap))
                .map(|(ha, _)| *ha)
                .collect();
            for ha in entries {
                self.remove_ap(now, ha, ap, Source::Local);
            }
        }
        // Another AAP gone: the APs it vouched for that did not fail over
        // to us are gone too (a live third AAP asserts its own again).
        let lost: Vec<Ipv4Addr> = self
            .peers
            .iter()
            .filter(|(_, p)| p.alive && now.instant >= p.last_heard + t.peer_expiry)
            .map(|(a, _)| *a)
            .collect();
        for peer in lost {
            tracing::info!(%peer, "subnet exchange: AAP gone silent");
            self.counters.peers_lost += 1;
            if let Some(p) = self.peers.get_mut(&peer) {
                p.alive = false;
                p.sync = None;
            }
            if let Some(l) = self.links.get_mut(&peer) {
                l.forget_queued();
            }
            let changes: Vec<(Ipv4Addr, u8, BTreeSet<Ipv4Addr>)> = self
                .table
                .iter()
                .filter(|(_, e)| e.live())
                .filter_map(|(ha, e)| {
                    let kept: BTreeSet<Ipv4Addr> = e
                        .aps
                        .iter()
                        .copied()
                        .filter(|a| self.members.contains_key(a))
                        .collect();
                    (kept.len() != e.aps.len()).then_some((*ha, e.prefix_len, kept))
                })
                .collect();
            for (ha, prefix, aps) in changes {
                self.set_entry(now, ha, prefix, false, aps, Source::Local);
            }
        }
        // Probes due: again, or give up and delete (the Aironet documentation: "if the home
        // agent does not respond, the AAP deletes the home agent entry").
        let due: Vec<(Ipv4Addr, Probe)> = self
            .probes
            .iter()
            .filter(|(_, p)| now.instant >= p.due())
            .map(|(a, p)| (*a, *p))
            .collect();
        for (ha, p) in due {
            match p {
                Probe::Probing { tries, .. } if tries < t.probe_tries => {
                    self.start_probe(now, ha, tries + 1, out);
                }
                Probe::Probing { .. } => {
                    self.probes.remove(&ha);
                    let orphan = self
                        .table
                        .get(&ha)
                        .filter(|e| e.live() && e.aps.is_empty())
                        .map(|e| e.prefix_len);
                    if let Some(prefix) = orphan {
                        tracing::info!(home_agent = %ha, "subnet exchange: home agent does not answer, entry deleted");
                        self.counters.deleted_by_probe += 1;
                        self.set_entry(now, ha, prefix, true, BTreeSet::new(), Source::Local);
                    }
                }
                Probe::Kept { .. } => self.start_probe(now, ha, 1, out),
            }
        }
    }
}
