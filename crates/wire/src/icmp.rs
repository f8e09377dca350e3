//! ICMP Router Discovery (RFC 1256) as Mobile IPv4 agent discovery uses
//! it (RFC 5944 section 2): Router Advertisements carrying the Mobility
//! Agent Advertisement, Prefix-Lengths and One-byte Padding extensions,
//! and Router Solicitations (which are Agent Solicitations).

use crate::checksum;
use crate::error::{Error, Result, need};
use crate::ipv4::{addr, be16};
use arrayvec::ArrayVec;
use core::net::Ipv4Addr;

pub const TYPE_ROUTER_ADVERTISEMENT: u8 = 9;
pub const TYPE_ROUTER_SOLICITATION: u8 = 10;
/// Code 16: a mobility agent that does not route common traffic
/// (RFC 5944 2.1.1).
pub const CODE_NOT_ROUTING: u8 = 16;
pub const MAX_ROUTERS: usize = 16;
pub const MAX_CARE_OF_ADDRESSES: usize = 8;
pub const MAX_EXTENSIONS: usize = 8;
/// The ICMP header of a router discovery message.
pub const HEADER_LEN: usize = field::LIFETIME.end;

mod field {
    use core::ops::Range;

    pub const TYPE: usize = 0;
    pub const CODE: usize = 1;
    pub const CHECKSUM: Range<usize> = 2..4;
    /// Router Advertisement (RFC 1256 3).
    pub const NUM_ADDRS: usize = 4;
    pub const ADDR_ENTRY_SIZE: usize = 5;
    pub const LIFETIME: Range<usize> = 6..8;
    /// Router Solicitation: the reserved word.
    pub const RESERVED: Range<usize> = 4..8;
    /// Router entries follow the header: address, then preference.
    pub const ROUTERS: usize = 8;
    pub const ENTRY_LEN: usize = 8;
    pub const ENTRY_ADDRESS: Range<usize> = 0..4;
    pub const ENTRY_PREFERENCE: Range<usize> = 4..8;

    /// Entry `i` of the router list.
    pub fn entry(i: usize) -> Range<usize> {
        ROUTERS + ENTRY_LEN * i..ROUTERS + ENTRY_LEN * (i + 1)
    }
}

/// Advertisement extension types.
pub mod ext {
    /// One-byte Padding (RFC 5944 2.1.3): a lone zero byte.
    pub const PADDING: u8 = 0;
    /// Mobility Agent Advertisement Extension (RFC 5944 2.1.1).
    pub const MOBILITY_AGENT: u8 = 16;
    /// Prefix-Lengths Extension (RFC 5944 2.1.2).
    pub const PREFIX_LENGTHS: u8 = 19;
}

/// The flags of a Mobility Agent Advertisement (RFC 5944 2.1.1:
/// R B H F M G r T U X I, then reserved bits).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct AgentFlags {
    /// R: registration with this foreign agent is required.
    pub registration_required: bool,
    /// B: busy, no more registrations.
    pub busy: bool,
    /// H: home agent on this link.
    pub home_agent: bool,
    /// F: foreign agent on this link.
    pub foreign_agent: bool,
    /// M: minimal encapsulation (RFC 2004) supported.
    pub minimal_encapsulation: bool,
    /// G: GRE supported.
    pub gre: bool,
    /// r: sent as zero, ignored (formerly VJ compression).
    pub r: bool,
    /// T: reverse tunnelling supported (RFC 3024).
    pub reverse_tunnel: bool,
    /// U: UDP tunnelling supported (RFC 3519).
    pub udp_tunnel: bool,
    /// X: registration revocation supported (RFC 3543).
    pub revocation: bool,
    /// I: regional registration supported (RFC 4857).
    pub regional: bool,
    /// The five remaining bits, kept so parsing is lossless.
    pub reserved: u8,
}

impl AgentFlags {
    pub fn from_bits(v: u16) -> AgentFlags {
        let bit = |n: u16| v & (1 << n) != 0;
        AgentFlags {
            registration_required: bit(15),
            busy: bit(14),
            home_agent: bit(13),
            foreign_agent: bit(12),
            minimal_encapsulation: bit(11),
            gre: bit(10),
            r: bit(9),
            reverse_tunnel: bit(8),
            udp_tunnel: bit(7),
            revocation: bit(6),
            regional: bit(5),
            reserved: (v & 0x1f) as u8,
        }
    }
    pub fn bits(self) -> u16 {
        let b = |x: bool, n: u16| u16::from(x) << n;
        b(self.registration_required, 15)
            | b(self.busy, 14)
            | b(self.home_agent, 13)
            | b(self.foreign_agent, 12)
            | b(self.minimal_encapsulation, 11)
            | b(self.gre, 10)
            | b(self.r, 9)
            | b(self.reverse_tunnel, 8)
            | b(self.udp_tunnel, 7)
            | b(self.revocation, 6)
            | b(self.regional, 5)
            | u16::from(self.reserved & 0x1f)
    }
}

/// The Mobility Agent Advertisement Extension.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MobilityAgent {
    /// Advertisements sent since the agent started (RFC 5944 2.1.1:
    /// restarts at 0; after 0xffff it wraps to 256, so 0–255 mean reboot).
    pub sequence: u16,
    /// Longest registration lifetime accepted, seconds (0xffff infinite).
    pub registration_lifetime: u16,
    pub flags: AgentFlags,
    /// Care-of addresses offered (foreign agents).
    pub care_of_addresses: ArrayVec<Ipv4Addr, MAX_CARE_OF_ADDRESSES>,
}

/// One extension of an advertisement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdvertisementExtension<'a> {
    MobilityAgent(MobilityAgent),
    /// One prefix length per router address (RFC 5944 2.1.2).
    PrefixLengths(ArrayVec<u8, MAX_ROUTERS>),
    Padding,
    /// An unknown extension of type 128–255 (skipped, RFC 5944 1.9/2.1),
    /// kept for lossless emit.
    Skipped {
        kind: u8,
        data: &'a [u8],
    },
}

impl AdvertisementExtension<'_> {
    pub fn buffer_len(&self) -> usize {
        match self {
            AdvertisementExtension::MobilityAgent(m) => 2 + 6 + 4 * m.care_of_addresses.len(),
            AdvertisementExtension::PrefixLengths(p) => 2 + p.len(),
            AdvertisementExtension::Padding => 1,
            AdvertisementExtension::Skipped { data, .. } => 2 + data.len(),
        }
    }

    fn emit(&self, buf: &mut [u8]) {
        match self {
            AdvertisementExtension::MobilityAgent(m) => {
                buf[0] = ext::MOBILITY_AGENT;
                buf[1] = (6 + 4 * m.care_of_addresses.len()) as u8;
                buf[2..4].copy_from_slice(&m.sequence.to_be_bytes());
                buf[4..6].copy_from_slice(&m.registration_lifetime.to_be_bytes());
                buf[6..8].copy_from_slice(&m.flags.bits().to_be_bytes());
                for (i, a) in m.care_of_addresses.iter().enumerate() {
                    buf[8 + 4 * i..12 + 4 * i].copy_from_slice(&a.octets());
                }
            }
            AdvertisementExtension::PrefixLengths(p) => {
                buf[0] = ext::PREFIX_LENGTHS;
                buf[1] = p.len() as u8;
                buf[2..2 + p.len()].copy_from_slice(p);
            }
            AdvertisementExtension::Padding => buf[0] = ext::PADDING,
            AdvertisementExtension::Skipped { kind, data } => {
                buf[0] = *kind;
                buf[1] = data.len() as u8;
                buf[2..2 + data.len()].copy_from_slice(data);
            }
        }
    }
}

/// A Router Advertisement, which with a Mobility Agent Advertisement
/// Extension is an Agent Advertisement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Advertisement<'a> {
    /// 0, or 16 for an agent that does not route common traffic.
    pub code: u8,
    /// Router lifetime, seconds.
    pub lifetime: u16,
    /// Router addresses and preference levels.
    pub routers: ArrayVec<(Ipv4Addr, i32), MAX_ROUTERS>,
    pub extensions: ArrayVec<AdvertisementExtension<'a>, MAX_EXTENSIONS>,
}

impl<'a> Advertisement<'a> {
    /// The mobility extension, if this is an agent advertisement.
    pub fn mobility_agent(&self) -> Option<&MobilityAgent> {
        self.extensions.iter().find_map(|e| match e {
            AdvertisementExtension::MobilityAgent(m) => Some(m),
            _ => None,
        })
    }

    /// The prefix lengths extension, if present.
    pub fn prefix_lengths(&self) -> Option<&[u8]> {
        self.extensions.iter().find_map(|e| match e {
            AdvertisementExtension::PrefixLengths(p) => Some(p.as_slice()),
            _ => None,
        })
    }
}

/// An ICMP router discovery message.
// The advertisement stays inline (bounded arrays): the wire layer does not
// allocate, and a 600-byte value on the stack is cheap.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Repr<'a> {
    Advertisement(Advertisement<'a>),
    /// Router (= Agent) Solicitation; the reserved word is kept.
    Solicitation {
        reserved: u32,
    },
}

/// Zero-copy view of an ICMP router discovery message.
#[derive(Debug, Clone)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    pub const fn new_unchecked(buffer: T) -> Self {
        Packet { buffer }
    }
    pub fn new_checked(buffer: T) -> Result<Self> {
        let p = Packet { buffer };
        p.check_len()?;
        Ok(p)
    }
    /// Header (8 bytes) and, for an advertisement, its router entries.
    pub fn check_len(&self) -> Result<()> {
        let b = self.buffer.as_ref();
        need("ICMP header", b, HEADER_LEN)?;
        if self.msg_type() == TYPE_ROUTER_ADVERTISEMENT {
            need("Router Advertisement entries", b, self.extensions_start())?;
        }
        Ok(())
    }
    pub fn into_inner(self) -> T {
        self.buffer
    }
    pub fn msg_type(&self) -> u8 {
        self.buffer.as_ref()[field::TYPE]
    }
    pub fn code(&self) -> u8 {
        self.buffer.as_ref()[field::CODE]
    }
    pub fn checksum(&self) -> u16 {
        be16(&self.buffer.as_ref()[field::CHECKSUM])
    }
    pub fn verify_checksum(&self) -> bool {
        checksum::verify(self.buffer.as_ref())
    }
    pub fn num_addrs(&self) -> u8 {
        self.buffer.as_ref()[field::NUM_ADDRS]
    }
    pub fn addr_entry_size(&self) -> u8 {
        self.buffer.as_ref()[field::ADDR_ENTRY_SIZE]
    }
    pub fn lifetime(&self) -> u16 {
        be16(&self.buffer.as_ref()[field::LIFETIME])
    }
    /// The reserved word of a Router Solicitation.
    pub fn reserved(&self) -> u32 {
        let b = &self.buffer.as_ref()[field::RESERVED];
        u32::from_be_bytes([b[0], b[1], b[2], b[3]])
    }
    /// Router address and preference of entry `i` (< num_addrs).
    pub fn router(&self, i: usize) -> (Ipv4Addr, i32) {
        let b = &self.buffer.as_ref()[field::entry(i)];
        let p = &b[field::ENTRY_PREFERENCE];
        (
            addr(&b[field::ENTRY_ADDRESS]),
            i32::from_be_bytes([p[0], p[1], p[2], p[3]]),
        )
    }
    fn extensions_start(&self) -> usize {
        field::entry(usize::from(self.num_addrs())).start
    }
    /// Bytes after the router entries.
    pub fn extensions(&self) -> &[u8] {
        &self.buffer.as_ref()[self.extensions_start()..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    pub fn set_msg_type(&mut self, v: u8) {
        self.buffer.as_mut()[field::TYPE] = v;
    }
    pub fn set_code(&mut self, v: u8) {
        self.buffer.as_mut()[field::CODE] = v;
    }
    pub fn set_checksum(&mut self, v: u16) {
        self.buffer.as_mut()[field::CHECKSUM].copy_from_slice(&v.to_be_bytes());
    }
    pub fn set_num_addrs(&mut self, v: u8) {
        self.buffer.as_mut()[field::NUM_ADDRS] = v;
    }
    pub fn set_addr_entry_size(&mut self, v: u8) {
        self.buffer.as_mut()[field::ADDR_ENTRY_SIZE] = v;
    }
    pub fn set_lifetime(&mut self, v: u16) {
        self.buffer.as_mut()[field::LIFETIME].copy_from_slice(&v.to_be_bytes());
    }
    pub fn set_reserved(&mut self, v: u32) {
        self.buffer.as_mut()[field::RESERVED].copy_from_slice(&v.to_be_bytes());
    }
    /// Writes router entry `i`.
    pub fn set_router(&mut self, i: usize, address: Ipv4Addr, preference: i32) {
        let b = &mut self.buffer.as_mut()[field::entry(i)];
        b[field::ENTRY_ADDRESS].copy_from_slice(&address.octets());
        b[field::ENTRY_PREFERENCE].copy_from_slice(&preference.to_be_bytes());
    }
    /// The bytes after the router entries (set `num_addrs` first).
    pub fn extensions_mut(&mut self) -> &mut [u8] {
        let at = self.extensions_start();
        &mut self.buffer.as_mut()[at..]
    }
    /// Computes the checksum over the whole buffer (the message).
    pub fn fill_checksum(&mut self) {
        self.set_checksum(0);
        let c = checksum::checksum(self.buffer.as_ref());
        self.set_checksum(c);
    }
}

fn parse_extension(bytes: &[u8]) -> Result<(AdvertisementExtension<'_>, usize)> {
    let kind = bytes[0];
    if kind == ext::PADDING {
        return Ok((AdvertisementExtension::Padding, 1));
    }
    need("advertisement extension header", bytes, 2)?;
    let len = usize::from(bytes[1]);
    need("advertisement extension", bytes, 2 + len)?;
    let data = &bytes[2..2 + len];
    let e = match kind {
        ext::MOBILITY_AGENT => {
            if len < 6 || (len - 6) % 4 != 0 {
                return Err(Error::BadLength {
                    what: "Mobility Agent Advertisement Extension",
                    len,
                });
            }
            let mut coas = ArrayVec::new();
            for c in data[6..].chunks_exact(4) {
                coas.try_push(addr(c)).map_err(|_| Error::Malformed {
                    what: "Mobility Agent Advertisement Extension",
                    reason: "too many care-of addresses",
                })?;
            }
            AdvertisementExtension::MobilityAgent(MobilityAgent {
                sequence: u16::from_be_bytes([data[0], data[1]]),
                registration_lifetime: u16::from_be_bytes([data[2], data[3]]),
                flags: AgentFlags::from_bits(u16::from_be_bytes([data[4], data[5]])),
                care_of_addresses: coas,
            })
        }
        ext::PREFIX_LENGTHS => {
            let mut p = ArrayVec::new();
            p.try_extend_from_slice(data)
                .map_err(|_| Error::Malformed {
                    what: "Prefix-Lengths Extension",
                    reason: "more prefix lengths than router addresses we accept",
                })?;
            AdvertisementExtension::PrefixLengths(p)
        }
        1..=127 => return Err(Error::UnknownExtension { kind }),
        _ => AdvertisementExtension::Skipped { kind, data },
    };
    Ok((e, 2 + len))
}

impl<'a> Repr<'a> {
    /// Parses a router discovery message (the whole ICMP message, so the
    /// checksum can be verified).
    pub fn parse<T: AsRef<[u8]> + ?Sized>(packet: &Packet<&'a T>) -> Result<Repr<'a>> {
        packet.check_len()?;
        if !packet.verify_checksum() {
            return Err(Error::BadChecksum { what: "ICMP" });
        }
        let buffer: &'a T = packet.buffer;
        let bytes: &'a [u8] = buffer.as_ref();
        match packet.msg_type() {
            TYPE_ROUTER_SOLICITATION => {
                if packet.code() != 0 {
                    return Err(Error::Unsupported {
                        what: "Router Solicitation code",
                        value: packet.code().into(),
                    });
                }
                if bytes.len() != HEADER_LEN {
                    return Err(Error::BadLength {
                        what: "Router Solicitation",
                        len: bytes.len(),
                    });
                }
                Ok(Repr::Solicitation {
                    reserved: packet.reserved(),
                })
            }
            TYPE_ROUTER_ADVERTISEMENT => {
                if packet.code() != 0 && packet.code() != CODE_NOT_ROUTING {
                    return Err(Error::Unsupported {
                        what: "Router Advertisement code",
                        value: packet.code().into(),
                    });
                }
                // RFC 1256 3: entries are 2 words; we do not accept others.
                if packet.addr_entry_size() != 2 {
                    return Err(Error::Unsupported {
                        what: "Router Advertisement address entry size",
                        value: packet.addr_entry_size().into(),
                    });
                }
                let mut routers = ArrayVec::new();
                for i in 0..usize::from(packet.num_addrs()) {
                    routers
                        .try_push(packet.router(i))
                        .map_err(|_| Error::Malformed {
                            what: "Router Advertisement",
                            reason: "too many router addresses",
                        })?;
                }
                let mut extensions = ArrayVec::new();
                let mut rest: &'a [u8] = &bytes[packet.extensions_start()..];
                while !rest.is_empty() {
                    let (e, used) = parse_extension(rest)?;
                    extensions.try_push(e).map_err(|_| Error::Malformed {
                        what: "Router Advertisement",
                        reason: "too many extensions",
                    })?;
                    rest = &rest[used..];
                }
                Ok(Repr::Advertisement(Advertisement {
                    code: packet.code(),
                    lifetime: packet.lifetime(),
                    routers,
                    extensions,
                }))
            }
            other => Err(Error::Unsupported {
                what: "ICMP type (not router discovery)",
                value: other.into(),
            }),
        }
    }

    pub fn buffer_len(&self) -> usize {
        match self {
            Repr::Solicitation { .. } => HEADER_LEN,
            Repr::Advertisement(a) => {
                field::entry(a.routers.len()).start
                    + a.extensions.iter().map(|e| e.buffer_len()).sum::<usize>()
            }
        }
    }

    /// Writes the message with its checksum into `buf` (exactly
    /// `buffer_len()` bytes: the checksum covers all of it).
    pub fn emit(&self, buf: &mut [u8]) {
        let len = self.buffer_len();
        let mut p = Packet::new_unchecked(&mut buf[..len]);
        match self {
            Repr::Solicitation { reserved } => {
                p.set_msg_type(TYPE_ROUTER_SOLICITATION);
                p.set_code(0);
                p.set_reserved(*reserved);
            }
            Repr::Advertisement(a) => {
                p.set_msg_type(TYPE_ROUTER_ADVERTISEMENT);
                p.set_code(a.code);
                p.set_num_addrs(a.routers.len() as u8);
                // RFC 1256 3: two 32-bit words per entry.
                p.set_addr_entry_size((field::ENTRY_LEN / 4) as u8);
                p.set_lifetime(a.lifetime);
                for (i, (r, pref)) in a.routers.iter().enumerate() {
                    p.set_router(i, *r, *pref);
                }
                let area = p.extensions_mut();
                let mut at = 0;
                for e in &a.extensions {
                    e.emit(&mut area[at..]);
                    at += e.buffer_len();
                }
            }
        }
        p.fill_checksum();
    }

    pub fn to_vec(&self) -> Vec<u8> {
        let mut v = vec![0u8; self.buffer_len()];
        self.emit(&mut v);
        v
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;

    pub(crate) fn agent_advertisement() -> Repr<'static> {
        let mut coas = ArrayVec::new();
        coas.push(Ipv4Addr::new(198, 51, 100, 1));
        let mut routers = ArrayVec::new();
        routers.push((Ipv4Addr::new(198, 51, 100, 1), 0));
        let mut extensions = ArrayVec::new();
        extensions.push(AdvertisementExtension::MobilityAgent(MobilityAgent {
            sequence: 256,
            registration_lifetime: 600,
            flags: AgentFlags {
                foreign_agent: true,
                reverse_tunnel: true,
                gre: true,
                ..Default::default()
            },
            care_of_addresses: coas,
        }));
        let mut p = ArrayVec::new();
        p.push(24);
        extensions.push(AdvertisementExtension::PrefixLengths(p));
        extensions.push(AdvertisementExtension::Padding);
        Repr::Advertisement(Advertisement {
            code: 0,
            lifetime: 1800,
            routers,
            extensions,
        })
    }

    #[test]
    fn layout() {
        let b = agent_advertisement().to_vec();
        assert_eq!(b.len(), 8 + 8 + 12 + 3 + 1);
        assert_eq!(&b[16..20], &[16, 10, 1, 0]);
        assert_eq!(&b[22..24], &0x1500u16.to_be_bytes(), "F, G and T");
        assert!(checksum::verify(&b));
        let r = Repr::parse(&Packet::new_checked(&b[..]).unwrap()).unwrap();
        assert_eq!(r, agent_advertisement());
        let Repr::Advertisement(a) = r else { panic!() };
        assert_eq!(
            a.mobility_agent().unwrap().care_of_addresses[0],
            Ipv4Addr::new(198, 51, 100, 1)
        );
        assert_eq!(a.prefix_lengths(), Some(&[24u8][..]));
    }

    #[test]
    fn refusals() {
        let b = agent_advertisement().to_vec();
        fn parse(b: &[u8]) -> Result<Repr<'_>> {
            Repr::parse(&Packet::new_unchecked(b))
        }
        let mut bad = b.clone();
        bad[20] ^= 1;
        assert_eq!(parse(&bad), Err(Error::BadChecksum { what: "ICMP" }));
        assert!(matches!(parse(&b[..12]), Err(Error::Truncated { .. })));
        let fix = |mut m: Vec<u8>| {
            m[2..4].copy_from_slice(&[0, 0]);
            let c = checksum::checksum(&m);
            m[2..4].copy_from_slice(&c.to_be_bytes());
            m
        };
        let mut unknown = b.clone();
        unknown[28] = 50; // the prefix-lengths extension becomes type 50
        assert_eq!(
            parse(&fix(unknown)),
            Err(Error::UnknownExtension { kind: 50 })
        );
        let mut skippable = b.clone();
        skippable[28] = 150;
        assert!(parse(&fix(skippable)).is_ok());
        let mut badlen = b.clone();
        badlen[17] = 7;
        assert!(parse(&fix(badlen)).is_err());
        let mut size = b.clone();
        size[5] = 3;
        assert!(matches!(parse(&fix(size)), Err(Error::Unsupported { .. })));
        let mut code = b.clone();
        code[1] = 5;
        assert!(matches!(parse(&fix(code)), Err(Error::Unsupported { .. })));
        let echo = fix(vec![8, 0, 0, 0, 0, 0, 0, 0]);
        assert!(matches!(parse(&echo), Err(Error::Unsupported { .. })));
        let sol = Repr::Solicitation { reserved: 0 }.to_vec();
        assert_eq!(parse(&sol), Ok(Repr::Solicitation { reserved: 0 }));
        assert!(matches!(
            parse(&fix([sol.clone(), vec![0]].concat())),
            Err(Error::BadLength { .. })
        ));
    }

    fn arb_advertisement() -> impl Strategy<Value = Vec<u8>> {
        (
            prop_oneof![Just(0u8), Just(16u8)],
            any::<u16>(),
            prop::collection::vec((any::<[u8; 4]>(), any::<i32>()), 0..4),
            any::<u16>(),
            any::<u16>(),
            any::<u16>(),
            prop::collection::vec(any::<[u8; 4]>(), 0..4),
            any::<bool>(),
            any::<bool>(),
        )
            .prop_map(
                |(code, lifetime, routers, seq, life, flags, coas, prefixes, pad)| {
                    let mut extensions = ArrayVec::new();
                    extensions.push(AdvertisementExtension::MobilityAgent(MobilityAgent {
                        sequence: seq,
                        registration_lifetime: life,
                        flags: AgentFlags::from_bits(flags),
                        care_of_addresses: coas.iter().map(|c| Ipv4Addr::from(*c)).collect(),
                    }));
                    if prefixes {
                        extensions.push(AdvertisementExtension::PrefixLengths(
                            routers.iter().map(|_| 24).collect(),
                        ));
                    }
                    if pad {
                        extensions.push(AdvertisementExtension::Padding);
                    }
                    Repr::Advertisement(Advertisement {
                        code,
                        lifetime,
                        routers: routers
                            .iter()
                            .map(|(a, p)| (Ipv4Addr::from(*a), *p))
                            .collect(),
                        extensions,
                    })
                    .to_vec()
                },
            )
    }

    proptest! {
        #[test]
        fn round_trip(b in arb_advertisement()) {
            let r = Repr::parse(&Packet::new_checked(&b[..]).unwrap()).unwrap();
            prop_assert_eq!(&r.to_vec(), &b);
        }

        #[test]
        fn flags_round_trip(v in any::<u16>()) {
            prop_assert_eq!(AgentFlags::from_bits(v).bits(), v);
        }

        #[test]
        fn arbitrary_bytes(mut b in prop::collection::vec(any::<u8>(), 0..64), t in prop_oneof![Just(9u8), Just(10u8)]) {
            if let Some(f) = b.first_mut() { *f = t; }
            if b.len() >= 4 {
                b[2..4].copy_from_slice(&[0, 0]);
                let c = checksum::checksum(&b);
                b[2..4].copy_from_slice(&c.to_be_bytes());
            }
            if let Ok(r) = Repr::parse(&Packet::new_unchecked(&b[..])) {
                prop_assert_eq!(&r.to_vec(), &b);
            }
        }
    }
}
