//! What a received message does: who may send what, tables, updates,
//! joins and digests, and the merge of entries by version.

use super::*;

impl SubnetExchange {
    /// Who may send what: tables come only from listed AAPs (the Aironet documentation:
    /// the AAP keeps the table), Joins only from APs that are not.
    pub(super) fn admissible(&self, r: &Repr) -> Result<(), &'static str> {
        let from_aap = self.aaps.contains(&r.sender);
        match (&r.message, self.is_aap) {
            (Message::Ack { .. }, _) => Ok(()),
            (Message::Table { .. } | Message::Update { .. }, _) if !from_aap => {
                Err("table from an address not in the AAP list")
            }
            (Message::Table { .. } | Message::Update { .. }, _) => Ok(()),
            // A plain AP hears stations from its AAPs only; an AAP from
            // the other AAPs and from its members (on_stations).
            (Message::Stations { .. }, false) if !from_aap => {
                Err("Stations from an address not in the AAP list")
            }
            (Message::Stations { .. }, _) => Ok(()),
            (Message::Join { .. }, true) if from_aap => Err("Join from an AAP"),
            (Message::Join { .. }, true) => Ok(()),
            (Message::Digest { .. } | Message::SyncRequest, true) if from_aap => Ok(()),
            (Message::Digest { .. } | Message::SyncRequest, true) => {
                Err("AAP message from an address not in the AAP list")
            }
            (_, false) => Err("message for an AAP sent to a plain AP"),
        }
    }

    pub(super) fn on_message(&mut self, now: Now, r: Repr, out: &mut Vec<Action>) {
        let from = r.sender;
        match r.message {
            Message::Ack { acknowledged } => self.on_ack(now, from, acknowledged),
            Message::Join {
                full_table,
                subnets,
            } => self.on_join(now, from, r.sequence, full_table, subnets, out),
            Message::Table {
                request,
                chunk,
                entries,
            } => {
                let key = PartialKey {
                    sender: from,
                    epoch: r.epoch,
                    kind: wire::kind::TABLE,
                    reference: request,
                };
                if let Some(entries) = self.on_chunk(now, key, r.sequence, chunk, entries, out) {
                    self.on_table(now, from, request, entries, out);
                }
            }
            Message::Update {
                group,
                chunk,
                entries,
            } => {
                let key = PartialKey {
                    sender: from,
                    epoch: r.epoch,
                    kind: wire::kind::UPDATE,
                    reference: group,
                };
                if let Some(entries) = self.on_chunk(now, key, r.sequence, chunk, entries, out) {
                    self.on_update(now, from, entries);
                }
            }
            Message::Digest { digest, .. } => self.on_digest(now, from, digest, out),
            Message::SyncRequest => {
                self.send_table(now, from, r.sequence, true, out);
                // A restarted AAP gets the station table back too.
                self.send_station_table(now, from);
            }
            Message::Stations { stations } => self.on_stations(now, from, stations),
        }
    }

    pub(super) fn on_ack(&mut self, now: Now, from: Ipv4Addr, acked: u32) {
        if self
            .links
            .get_mut(&from)
            .and_then(|l| l.in_flight.remove(&acked))
            .is_some()
        {
            self.counters.acks_received += 1;
            return;
        }
        // A keepalive (not full) Join is answered by an Ack.
        let answers_join = self.join.as_ref().is_some_and(|j| {
            !j.full && self.aaps.get(j.aap) == Some(&from) && j.seqs.contains(&acked)
        });
        if answers_join {
            self.counters.acks_received += 1;
            self.complete_join(now);
        } else {
            self.drop_reason("Ack for nothing outstanding");
        }
    }

    /// Acknowledges the chunk and returns the whole message once every
    /// chunk of it is in.
    pub(super) fn on_chunk(
        &mut self,
        now: Now,
        key: PartialKey,
        seq: u32,
        chunk: Chunk,
        entries: Vec<Entry>,
        out: &mut Vec<Action>,
    ) -> Option<Vec<Entry>> {
        self.send_ack(key.sender, seq, out);
        if chunk.count > MAX_CHUNKS {
            self.counters.malformed += 1;
            return None;
        }
        let whole = if chunk.count == 1 {
            entries
        } else {
            if !self.partials.contains_key(&key) {
                let mine: Vec<(PartialKey, Instant)> = self
                    .partials
                    .iter()
                    .filter(|(k, _)| k.sender == key.sender)
                    .map(|(k, p)| (*k, p.started))
                    .collect();
                let oldest = mine
                    .iter()
                    .min_by_key(|(_, t)| *t)
                    .map(|(k, _)| *k)
                    .filter(|_| mine.len() >= MAX_PARTIALS_PER_SENDER);
                if let Some(oldest) = oldest {
                    self.partials.remove(&oldest);
                    self.partial_lost(oldest.kind);
                }
                self.partials.insert(
                    key,
                    Partial {
                        chunks: vec![None; usize::from(chunk.count)],
                        got: 0,
                        started: now.instant,
                    },
                );
            }
            let p = self.partials.get_mut(&key)?;
            if p.chunks.len() != usize::from(chunk.count) {
                // Chunks of one message disagree on their count.
                self.partials.remove(&key);
                self.counters.malformed += 1;
                return None;
            }
            let slot = &mut p.chunks[usize::from(chunk.index)];
            if slot.is_none() {
                *slot = Some(entries);
                p.got += 1;
            }
            if p.got < p.chunks.len() {
                return None;
            }
            let p = self.partials.remove(&key)?;
            p.chunks.into_iter().flatten().flatten().collect()
        };
        match wire::union_pieces(whole) {
            Ok(v) => Some(v),
            Err(_) => {
                self.counters.malformed += 1;
                None
            }
        }
    }

    pub(super) fn partial_lost(&mut self, kind: u8) {
        self.drop_reason("incomplete chunked message");
        if kind == wire::kind::UPDATE && !self.is_aap {
            // We missed changes: take the whole table with the next Join.
            self.want_full = true;
        }
    }

    pub(super) fn on_table(
        &mut self,
        now: Now,
        from: Ipv4Addr,
        request: u32,
        entries: Vec<Entry>,
        out: &mut Vec<Action>,
    ) {
        if self.is_aap {
            let answers = self
                .peers
                .get(&from)
                .is_some_and(|p| p.sync.as_ref().is_some_and(|s| s.seqs.contains(&request)));
            if !answers {
                self.drop_reason("Table that answers no request");
                return;
            }
            if let Some(p) = self.peers.get_mut(&from) {
                p.sync = None;
                p.mismatches = 0;
            }
            self.counters.tables_installed += 1;
            self.merge_from_peer(now, from, entries);
            self.set_synced(now, out);
            return;
        }
        let Some(j) = self.join.as_ref() else {
            self.drop_reason("Table that answers no request");
            return;
        };
        if self.aaps.get(j.aap) != Some(&from) || !j.seqs.contains(&request) {
            self.drop_reason("Table that answers no request");
            return;
        }
        let since = j.started;
        self.counters.tables_installed += 1;
        let present: BTreeSet<Ipv4Addr> = entries.iter().map(|e| e.home_agent).collect();
        for e in entries {
            self.merge(now, e, Source::Aap(from));
        }
        // The table is the AAP's whole state: what we learnt before asking
        // and it no longer has is gone. What came after we asked (a pushed
        // Update overtaking the table) stays.
        let stale: Vec<Ipv4Addr> = self
            .table
            .iter()
            .filter(|(ha, e)| !present.contains(ha) && e.changed < since)
            .map(|(ha, _)| *ha)
            .collect();
        for ha in stale {
            if self.table.remove(&ha).is_some_and(|e| e.live()) {
                self.view_changed = true;
            }
        }
        self.complete_join(now);
    }

    pub(super) fn on_update(&mut self, now: Now, from: Ipv4Addr, entries: Vec<Entry>) {
        self.counters.updates_applied += 1;
        if self.is_aap {
            self.merge_from_peer(now, from, entries);
        } else {
            for e in entries {
                self.merge(now, e, Source::Aap(from));
            }
        }
    }

    pub(super) fn on_join(
        &mut self,
        now: Now,
        from: Ipv4Addr,
        seq: u32,
        full_table: bool,
        subnets: Vec<Subnet>,
        out: &mut Vec<Action>,
    ) {
        let new_member = !self.members.contains_key(&from);
        // +1: the AAP itself is a member too.
        if new_member && self.members.len() > self.config.max_aps {
            self.drop_reason("Join beyond the AP limit");
            return;
        }
        let m = self.members.entry(from).or_insert(Member {
            reported: Vec::new(),
            last_heard: now.instant,
            needs_full: false,
            pending_join: None,
        });
        m.last_heard = now.instant;
        let full = full_table || new_member || m.needs_full;
        self.apply_report(now, from, normalize(subnets), Source::Local);
        if full {
            // A new member (a booting AP, one that failed over to us) knows
            // no station yet.
            self.send_station_table(now, from);
        }
        if !full {
            self.send_ack(from, seq, out);
        } else if self.synced {
            self.answer_join(now, from, seq, out);
        } else if let Some(m) = self.members.get_mut(&from) {
            // Still recovering the table from the other AAPs: answer once
            // we have it (or after sync_wait).
            m.pending_join = Some(seq);
        }
    }

    pub(super) fn answer_join(&mut self, now: Now, to: Ipv4Addr, seq: u32, out: &mut Vec<Action>) {
        if let Some(m) = self.members.get_mut(&to) {
            m.needs_full = false;
            m.pending_join = None;
        }
        self.send_table(now, to, seq, false, out);
    }

    pub(super) fn on_digest(
        &mut self,
        now: Now,
        from: Ipv4Addr,
        digest: [u8; 32],
        out: &mut Vec<Action>,
    ) {
        let same = digest == self.digest();
        let Some(p) = self.peers.get_mut(&from) else {
            return;
        };
        if same {
            p.mismatches = 0;
            return;
        }
        self.counters.digest_mismatches += 1;
        p.mismatches = p.mismatches.saturating_add(1);
        // Two in a row: one alone is usually an Update still in flight.
        if p.mismatches >= 2 && p.sync.is_none() {
            p.mismatches = 0;
            self.start_sync(now, from, out);
        }
    }

    // ----- table changes --------------------------------------------------

    /// Merges a received entry by version. Returns whether APs see the
    /// change (None: not taken).
    pub(super) fn merge(&mut self, now: Now, e: Entry, source: Source) -> Option<bool> {
        let mut aps = e.aps;
        aps.sort();
        aps.dedup();
        let old = self.table.get(&e.home_agent);
        if let Some(l) = old {
            let ord = rank_cmp(
                (
                    l.version,
                    l.deleted,
                    l.prefix_len,
                    &mut l.aps.iter().copied(),
                ),
                (e.version, e.deleted, e.prefix_len, &mut aps.iter().copied()),
            );
            if ord != core::cmp::Ordering::Less {
                return None;
            }
        } else if self.table.len() >= self.config.max_entries {
            self.drop_reason("table full");
            return None;
        }
        let old = old.map(|l| (l.live(), l.prefix_len));
        let visible = visible_change(old, Some((!e.deleted, e.prefix_len)));
        self.table.insert(
            e.home_agent,
            TableEntry {
                prefix_len: e.prefix_len,
                deleted: e.deleted,
                version: e.version,
                aps: aps.into_iter().collect(),
                source,
                changed: now.instant,
            },
        );
        if visible {
            self.view_changed = true;
        }
        Some(visible)
    }

    /// An AAP merges what another AAP sent: changes APs see go to our
    /// members (the sender pushes to the other AAPs itself), then our own
    /// members' reports are asserted again.
    pub(super) fn merge_from_peer(&mut self, now: Now, from: Ipv4Addr, entries: Vec<Entry>) {
        for e in entries {
            let ha = e.home_agent;
            if let Some(visible) = self.merge(now, e, Source::Aap(from)) {
                self.note_change(ha, visible, false);
            }
        }
        self.reconcile(now);
    }

    /// A local change on an AAP: the entry of `ha` becomes this, one
    /// version above what it was, pushed to members and the other AAPs.
    pub(super) fn set_entry(
        &mut self,
        now: Now,
        ha: Ipv4Addr,
        prefix_len: u8,
        deleted: bool,
        aps: BTreeSet<Ipv4Addr>,
        source: Source,
    ) {
        let old = self.table.get(&ha);
        if old.is_none() && self.table.len() >= self.config.max_entries {
            self.drop_reason("table full");
            return;
        }
        let version = old.map_or(1, |l| l.version.saturating_add(1));
        let visible = visible_change(
            old.map(|l| (l.live(), l.prefix_len)),
            Some((!deleted, prefix_len)),
        );
        self.table.insert(
            ha,
            TableEntry {
                prefix_len,
                deleted,
                version,
                aps,
                source,
                changed: now.instant,
            },
        );
        if visible {
            self.view_changed = true;
        }
        self.note_change(ha, visible, true);
    }

    /// Queues the change of `ha` for the members (if they see it) and, if
    /// it was made here, for the other AAPs still alive.
    pub(super) fn note_change(&mut self, ha: Ipv4Addr, visible: bool, local: bool) {
        let own = self.config.own_address;
        if visible {
            let members: Vec<Ipv4Addr> =
                self.members.keys().copied().filter(|m| *m != own).collect();
            for m in members {
                self.links.entry(m).or_default().dirty.insert(ha);
            }
        }
        if local {
            let peers: Vec<Ipv4Addr> = self
                .peers
                .iter()
                .filter(|(_, p)| p.alive)
                .map(|(a, _)| *a)
                .collect();
            for p in peers {
                self.links.entry(p).or_default().dirty.insert(ha);
            }
        }
    }

    /// `ap` sits behind `s`: the entry exists, is live and lists it. The
    /// prefix follows the report only when the report is new or changed,
    /// so two APs that disagree on a mask do not make AAPs flap.
    pub(super) fn ensure_member(
        &mut self,
        now: Now,
        s: Subnet,
        update_prefix: bool,
        ap: Ipv4Addr,
        source: Source,
    ) {
        match self.table.get(&s.home_agent) {
            Some(l) if l.live() => {
                let prefix = if update_prefix {
                    s.prefix_len
                } else {
                    l.prefix_len
                };
                if prefix == l.prefix_len && l.aps.contains(&ap) {
                    return;
                }
                let mut aps = l.aps.clone();
                aps.insert(ap);
                self.set_entry(now, s.home_agent, prefix, false, aps, source);
            }
            _ => {
                self.set_entry(
                    now,
                    s.home_agent,
                    s.prefix_len,
                    false,
                    BTreeSet::from([ap]),
                    source,
                );
            }
        }
    }

    pub(super) fn remove_ap(&mut self, now: Now, ha: Ipv4Addr, ap: Ipv4Addr, source: Source) {
        let Some(l) = self.table.get(&ha) else {
            return;
        };
        if !l.live() || !l.aps.contains(&ap) {
            return;
        }
        let mut aps = l.aps.clone();
        aps.remove(&ap);
        let prefix = l.prefix_len;
        self.set_entry(now, ha, prefix, false, aps, source);
    }

    /// Member `m` now reports `new`: it leaves the entries it no longer
    /// reports and joins the ones it does.
    pub(super) fn apply_report(&mut self, now: Now, m: Ipv4Addr, new: Vec<Subnet>, source: Source) {
        let old = self
            .members
            .get(&m)
            .map(|x| x.reported.clone())
            .unwrap_or_default();
        for o in &old {
            if !new.iter().any(|n| n.home_agent == o.home_agent) {
                self.remove_ap(now, o.home_agent, m, source);
            }
        }
        for n in &new {
            self.ensure_member(now, *n, !old.contains(n), m, source);
        }
        if let Some(x) = self.members.get_mut(&m) {
            x.reported = new;
        }
    }

    /// After merging another AAP's data, our members' reports hold again:
    /// each member is in the entries it reports and in no other. This is
    /// what makes concurrent changes at two AAPs converge.
    pub(super) fn reconcile(&mut self, now: Now) {
        let own = self.config.own_address;
        let members: Vec<(Ipv4Addr, Vec<Subnet>)> = self
            .members
            .iter()
            .map(|(a, m)| (*a, m.reported.clone()))
            .collect();
        for (m, reported) in &members {
            let source = if *m == own {
                Source::Own
            } else {
                Source::Local
            };
            for s in reported {
                self.ensure_member(now, *s, false, *m, source);
            }
        }
        let strays: Vec<(Ipv4Addr, Ipv4Addr)> = self
            .table
            .iter()
            .filter(|(_, e)| e.live())
            .flat_map(|(ha, e)| e.aps.iter().map(move |ap| (*ha, *ap)))
            .filter(|(ha, ap)| {
                self.members
                    .get(ap)
                    .is_some_and(|m| !m.reported.iter().any(|s| s.home_agent == *ha))
            })
            .collect();
        for (ha, ap) in strays {
            self.remove_ap(now, ha, ap, Source::Local);
        }
    }
}
