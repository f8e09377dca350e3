//! Sending: sequence numbers, reliable messages with retransmission,
//! tables in chunks, joins, resyncs between AAPs, home agent probes.

use super::*;

impl SubnetExchange {
    pub(super) fn next_seq(&mut self, to: Ipv4Addr) -> u32 {
        let l = self.links.entry(to).or_default();
        let s = l.next_seq;
        l.next_seq = l.next_seq.wrapping_add(1).max(1);
        s
    }

    pub(super) fn emit(&mut self, seq: u32, message: Message) -> Option<Vec<u8>> {
        let r = Repr {
            sender: self.config.own_address,
            epoch: self.epoch,
            sequence: seq,
            message,
        };
        match r.to_vec(&self.config.key) {
            Ok(v) => Some(v),
            Err(_) => {
                self.drop_reason("message too large to send");
                None
            }
        }
    }

    pub(super) fn send_once(
        &mut self,
        to: Ipv4Addr,
        message: Message,
        out: &mut Vec<Action>,
    ) -> u32 {
        let seq = self.next_seq(to);
        if let Some(datagram) = self.emit(seq, message) {
            self.counters.sent += 1;
            out.push(Action::Send { to, datagram });
        }
        seq
    }

    pub(super) fn send_reliable(
        &mut self,
        now: Now,
        to: Ipv4Addr,
        seq: u32,
        message: Message,
        update: bool,
        out: &mut Vec<Action>,
    ) {
        let Some(datagram) = self.emit(seq, message) else {
            return;
        };
        self.counters.sent += 1;
        out.push(Action::Send {
            to,
            datagram: datagram.clone(),
        });
        self.links.entry(to).or_default().in_flight.insert(
            seq,
            InFlight {
                datagram,
                sent: now.instant,
                tries: 1,
                update,
            },
        );
    }

    pub(super) fn send_ack(&mut self, to: Ipv4Addr, seq: u32, out: &mut Vec<Action>) {
        self.counters.acks_sent += 1;
        self.send_once(to, Message::Ack { acknowledged: seq }, out);
    }

    /// The whole table, chunked, answering `request`. Towards plain APs
    /// without AP lists (they only need home agent and mask).
    pub(super) fn send_table(
        &mut self,
        now: Now,
        to: Ipv4Addr,
        request: u32,
        with_aps: bool,
        out: &mut Vec<Action>,
    ) {
        let entries = self.wire_entries(with_aps);
        let chunks = match wire::split_entries(&entries) {
            Ok(c) => c,
            Err(_) => {
                self.drop_reason("table too large to send");
                return;
            }
        };
        // The table carries every pending change.
        self.links.entry(to).or_default().dirty.clear();
        let count = chunks.len() as u16;
        for (i, entries) in chunks.into_iter().enumerate() {
            let seq = self.next_seq(to);
            let message = Message::Table {
                request,
                chunk: Chunk {
                    index: i as u16,
                    count,
                },
                entries,
            };
            self.send_reliable(now, to, seq, message, false, out);
        }
    }

    /// Pushes queued changes as Updates, coalesced per destination, while
    /// fewer than [`MAX_IN_FLIGHT`] are unacknowledged there.
    pub(super) fn flush(&mut self, now: Now, out: &mut Vec<Action>) {
        let mut targets: Vec<Ipv4Addr> = self
            .links
            .iter()
            .filter(|(_, l)| {
                !l.dirty.is_empty()
                    && l.in_flight.values().filter(|f| f.update).count() < MAX_IN_FLIGHT
            })
            .map(|(a, _)| *a)
            .collect();
        targets.sort();
        for to in targets {
            let with_aps = self.peers.contains_key(&to);
            let dirty = core::mem::take(&mut self.links.entry(to).or_default().dirty);
            let entries: Vec<Entry> = dirty
                .iter()
                .filter_map(|ha| self.table.get(ha).map(|e| e.to_wire(*ha, with_aps)))
                .collect();
            if entries.is_empty() {
                continue;
            }
            let Ok(chunks) = wire::split_entries(&entries) else {
                self.drop_reason("update too large to send");
                continue;
            };
            let count = chunks.len() as u16;
            let mut group = 0;
            for (i, entries) in chunks.into_iter().enumerate() {
                let seq = self.next_seq(to);
                if i == 0 {
                    group = seq;
                }
                let message = Message::Update {
                    group,
                    chunk: Chunk {
                        index: i as u16,
                        count,
                    },
                    entries,
                };
                self.send_reliable(now, to, seq, message, true, out);
            }
        }
    }

    // ----- AP role ----------------------------------------------------------

    pub(super) fn start_join(&mut self, now: Now, full: bool, out: &mut Vec<Action>) {
        if self.aaps.is_empty() || self.is_aap {
            return;
        }
        let full = full || self.want_full || self.join.as_ref().is_some_and(|j| j.full);
        self.want_full = false;
        self.join = Some(JoinSeries {
            aap: self.current,
            full,
            seqs: Vec::new(),
            started: now.instant,
            last_sent: now.instant,
            tries: 0,
        });
        self.next_keepalive = None;
        self.join_attempt(now, out);
    }

    pub(super) fn join_attempt(&mut self, now: Now, out: &mut Vec<Action>) {
        let Some(j) = self.join.as_ref() else {
            return;
        };
        let to = self.aaps[j.aap];
        let message = Message::Join {
            full_table: j.full,
            subnets: self.own.clone(),
        };
        let seq = self.send_once(to, message, out);
        if let Some(j) = self.join.as_mut() {
            if j.tries > 0 {
                self.counters.retransmissions += 1;
            }
            j.seqs.push(seq);
            j.tries += 1;
            j.last_sent = now.instant;
        }
    }

    pub(super) fn complete_join(&mut self, now: Now) {
        self.join = None;
        self.joins_completed = self.joins_completed.wrapping_add(1);
        // Up to a quarter less than the period, varying by AP and by round,
        // so APs that booted together do not keep sending together.
        let k = self.config.timers.keepalive;
        let spread = u64::from(u32::from(self.config.own_address)) << 32 | self.joins_completed;
        let jitter = k.mul_f64((splitmix(spread) >> 11) as f64 / (1u64 << 53) as f64 / 4.0);
        self.next_keepalive = Some(now.instant + (k - jitter));
        self.stations_after_join(now);
    }

    pub(super) fn join_deadline(&self) -> Option<Instant> {
        self.join
            .as_ref()
            .map(|j| j.last_sent + self.backoff(j.tries))
    }

    // ----- AAP role ---------------------------------------------------------

    pub(super) fn start_sync(&mut self, now: Now, peer: Ipv4Addr, out: &mut Vec<Action>) {
        self.counters.sync_requests += 1;
        let seq = self.send_once(peer, Message::SyncRequest, out);
        if let Some(p) = self.peers.get_mut(&peer) {
            match p.sync.as_mut() {
                Some(s) => {
                    s.seqs.push(seq);
                    s.tries += 1;
                    s.last_sent = now.instant;
                }
                None => {
                    p.sync = Some(SyncSeries {
                        seqs: vec![seq],
                        last_sent: now.instant,
                        tries: 1,
                    })
                }
            }
        }
    }

    /// We have the table (or gave up waiting for it): answer the Joins
    /// held back meanwhile.
    pub(super) fn set_synced(&mut self, now: Now, out: &mut Vec<Action>) {
        if self.synced {
            return;
        }
        self.synced = true;
        let pending: Vec<(Ipv4Addr, u32)> = self
            .members
            .iter()
            .filter_map(|(a, m)| m.pending_join.map(|s| (*a, s)))
            .collect();
        for (a, s) in pending {
            self.answer_join(now, a, s, out);
        }
    }

    /// The AAP that probes: the first in the list that is alive, so two
    /// AAPs do not both decide about one home agent.
    pub(super) fn probe_owner(&self) -> bool {
        for a in &self.aaps {
            if *a == self.config.own_address {
                return true;
            }
            if self.peers.get(a).is_some_and(|p| p.heard && p.alive) {
                return false;
            }
        }
        true
    }

    pub(super) fn start_probe(&mut self, now: Now, ha: Ipv4Addr, tries: u8, out: &mut Vec<Action>) {
        let Some(e) = self.table.get(&ha) else {
            return;
        };
        out.push(Action::ProbeHomeAgent {
            home_agent: ha,
            broadcast: directed_broadcast(ha, e.prefix_len),
        });
        self.counters.probes_sent += 1;
        self.probes.insert(
            ha,
            Probe::Probing {
                tries,
                next: now.instant + self.config.timers.probe_interval,
            },
        );
    }

    /// Starts probes for entries no AP is behind (the Aironet documentation), and forgets
    /// probes of entries that have APs again.
    pub(super) fn maintain_probes(&mut self, now: Now, out: &mut Vec<Action>) {
        if !self.is_aap {
            return;
        }
        let owner = self.probe_owner();
        let table = &self.table;
        self.probes
            .retain(|ha, _| owner && table.get(ha).is_some_and(|e| e.live() && e.aps.is_empty()));
        if !owner {
            return;
        }
        let orphans: Vec<Ipv4Addr> = self
            .table
            .iter()
            .filter(|(ha, e)| e.live() && e.aps.is_empty() && !self.probes.contains_key(ha))
            .map(|(ha, _)| *ha)
            .collect();
        for ha in orphans {
            self.start_probe(now, ha, 1, out);
        }
    }

    /// Ends every input: probes, pushes, and the TableChanged notice.
    pub(super) fn finish(&mut self, now: Now, out: &mut Vec<Action>) {
        if self.started {
            self.maintain_probes(now, out);
            self.flush(now, out);
        }
        if self.view_changed {
            self.view_changed = false;
            out.push(Action::TableChanged);
        }
    }
}
