//! ARP for IPv4 over Ethernet (RFC 826), and the gratuitous ARP a home
//! agent sends when it starts or stops answering for a mobile node
//! (RFC 5944 section 4.6).

use crate::error::{Error, Result, need};
use crate::ethernet::EthernetAddress;
use crate::ipv4::{addr, be16};
use core::net::Ipv4Addr;

/// ARP over Ethernet for IPv4: 28 bytes.
pub const PACKET_LEN: usize = field::TPA.end;

mod field {
    use core::ops::Range;

    pub const HTYPE: Range<usize> = 0..2;
    pub const PTYPE: Range<usize> = 2..4;
    pub const HLEN: usize = 4;
    pub const PLEN: usize = 5;
    pub const OPER: Range<usize> = 6..8;
    /// Sender and target addresses, Ethernet and IPv4 sizes only.
    pub const SHA: Range<usize> = 8..14;
    pub const SPA: Range<usize> = 14..18;
    pub const THA: Range<usize> = 18..24;
    pub const TPA: Range<usize> = 24..28;
}

/// Hardware type Ethernet, protocol type IPv4.
const HTYPE_ETHERNET: u16 = 1;
const PTYPE_IPV4: u16 = 0x0800;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    Request,
    Reply,
}

impl Operation {
    fn code(self) -> u16 {
        match self {
            Operation::Request => 1,
            Operation::Reply => 2,
        }
    }
}

/// Zero-copy view of an ARP packet.
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
    pub fn check_len(&self) -> Result<()> {
        need("ARP packet", self.buffer.as_ref(), PACKET_LEN)
    }
    pub fn into_inner(self) -> T {
        self.buffer
    }
    pub fn hardware_type(&self) -> u16 {
        be16(&self.buffer.as_ref()[field::HTYPE])
    }
    pub fn protocol_type(&self) -> u16 {
        be16(&self.buffer.as_ref()[field::PTYPE])
    }
    pub fn hardware_len(&self) -> u8 {
        self.buffer.as_ref()[field::HLEN]
    }
    pub fn protocol_len(&self) -> u8 {
        self.buffer.as_ref()[field::PLEN]
    }
    pub fn operation(&self) -> u16 {
        be16(&self.buffer.as_ref()[field::OPER])
    }
    pub fn sender_hardware_addr(&self) -> EthernetAddress {
        EthernetAddress::from_bytes(&self.buffer.as_ref()[field::SHA])
    }
    pub fn sender_protocol_addr(&self) -> Ipv4Addr {
        addr(&self.buffer.as_ref()[field::SPA])
    }
    pub fn target_hardware_addr(&self) -> EthernetAddress {
        EthernetAddress::from_bytes(&self.buffer.as_ref()[field::THA])
    }
    pub fn target_protocol_addr(&self) -> Ipv4Addr {
        addr(&self.buffer.as_ref()[field::TPA])
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    pub fn set_hardware_type(&mut self, v: u16) {
        self.buffer.as_mut()[field::HTYPE].copy_from_slice(&v.to_be_bytes());
    }
    pub fn set_protocol_type(&mut self, v: u16) {
        self.buffer.as_mut()[field::PTYPE].copy_from_slice(&v.to_be_bytes());
    }
    pub fn set_hardware_len(&mut self, v: u8) {
        self.buffer.as_mut()[field::HLEN] = v;
    }
    pub fn set_protocol_len(&mut self, v: u8) {
        self.buffer.as_mut()[field::PLEN] = v;
    }
    pub fn set_operation(&mut self, v: u16) {
        self.buffer.as_mut()[field::OPER].copy_from_slice(&v.to_be_bytes());
    }
    pub fn set_sender_hardware_addr(&mut self, a: EthernetAddress) {
        self.buffer.as_mut()[field::SHA].copy_from_slice(&a.0);
    }
    pub fn set_sender_protocol_addr(&mut self, a: Ipv4Addr) {
        self.buffer.as_mut()[field::SPA].copy_from_slice(&a.octets());
    }
    pub fn set_target_hardware_addr(&mut self, a: EthernetAddress) {
        self.buffer.as_mut()[field::THA].copy_from_slice(&a.0);
    }
    pub fn set_target_protocol_addr(&mut self, a: Ipv4Addr) {
        self.buffer.as_mut()[field::TPA].copy_from_slice(&a.octets());
    }
}

/// A parsed ARP packet (Ethernet/IPv4 only).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repr {
    pub operation: Operation,
    pub sender_hardware_addr: EthernetAddress,
    pub sender_protocol_addr: Ipv4Addr,
    pub target_hardware_addr: EthernetAddress,
    pub target_protocol_addr: Ipv4Addr,
}

impl Repr {
    pub fn parse<T: AsRef<[u8]>>(p: &Packet<T>) -> Result<Repr> {
        p.check_len()?;
        let unsupported = |what, value: u32| Err(Error::Unsupported { what, value });
        if p.hardware_type() != HTYPE_ETHERNET {
            return unsupported("ARP hardware type", p.hardware_type().into());
        }
        if p.protocol_type() != PTYPE_IPV4 {
            return unsupported("ARP protocol type", p.protocol_type().into());
        }
        if p.hardware_len() != 6 {
            return unsupported("ARP hardware address length", p.hardware_len().into());
        }
        if p.protocol_len() != 4 {
            return unsupported("ARP protocol address length", p.protocol_len().into());
        }
        let operation = match p.operation() {
            1 => Operation::Request,
            2 => Operation::Reply,
            other => return unsupported("ARP operation", other.into()),
        };
        Ok(Repr {
            operation,
            sender_hardware_addr: p.sender_hardware_addr(),
            sender_protocol_addr: p.sender_protocol_addr(),
            target_hardware_addr: p.target_hardware_addr(),
            target_protocol_addr: p.target_protocol_addr(),
        })
    }

    pub const fn buffer_len(&self) -> usize {
        PACKET_LEN
    }

    /// Writes the packet into the front of `buf` (at least
    /// [`PACKET_LEN`] bytes).
    pub fn emit(&self, buf: &mut [u8]) {
        let mut p = Packet::new_unchecked(buf);
        p.set_hardware_type(HTYPE_ETHERNET);
        p.set_protocol_type(PTYPE_IPV4);
        p.set_hardware_len(6);
        p.set_protocol_len(4);
        p.set_operation(self.operation.code());
        p.set_sender_hardware_addr(self.sender_hardware_addr);
        p.set_sender_protocol_addr(self.sender_protocol_addr);
        p.set_target_hardware_addr(self.target_hardware_addr);
        p.set_target_protocol_addr(self.target_protocol_addr);
    }

    pub fn to_bytes(&self) -> [u8; PACKET_LEN] {
        let mut b = [0u8; PACKET_LEN];
        self.emit(&mut b);
        b
    }
}

/// Gratuitous ARP announcing that `addr` is at `mac` (RFC 5944 4.6):
/// sender and target protocol address both `addr`, sent to broadcast. The
/// RFC asks for it as a request and may also be sent as a reply; both
/// forms are returned, request first.
pub fn gratuitous(mac: EthernetAddress, addr: Ipv4Addr) -> [[u8; PACKET_LEN]; 2] {
    let request = Repr {
        operation: Operation::Request,
        sender_hardware_addr: mac,
        sender_protocol_addr: addr,
        target_hardware_addr: EthernetAddress([0; 6]),
        target_protocol_addr: addr,
    };
    let reply = Repr {
        operation: Operation::Reply,
        target_hardware_addr: mac,
        ..request
    };
    [request.to_bytes(), reply.to_bytes()]
}

/// The proxy ARP reply an agent sends for `addr` on behalf of a node away
/// from the link, to the asker.
pub fn proxy_reply(request: &Repr, our_mac: EthernetAddress) -> Repr {
    Repr {
        operation: Operation::Reply,
        sender_hardware_addr: our_mac,
        sender_protocol_addr: request.target_protocol_addr,
        target_hardware_addr: request.sender_hardware_addr,
        target_protocol_addr: request.sender_protocol_addr,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const MAC: EthernetAddress = EthernetAddress([2, 0, 0, 0, 0, 1]);
    const HOME: Ipv4Addr = Ipv4Addr::new(10, 1, 0, 50);

    #[test]
    fn gratuitous_follows_rfc_5944() {
        let [req, rep] = gratuitous(MAC, HOME);
        let r = Repr::parse(&Packet::new_unchecked(&req[..])).unwrap();
        assert_eq!(r.operation, Operation::Request);
        assert_eq!(
            (r.sender_protocol_addr, r.target_protocol_addr),
            (HOME, HOME)
        );
        assert_eq!(r.sender_hardware_addr, MAC);
        let r = Repr::parse(&Packet::new_unchecked(&rep[..])).unwrap();
        assert_eq!(r.operation, Operation::Reply);
        assert_eq!(r.target_hardware_addr, MAC);
    }

    #[test]
    fn refusals() {
        let [req, _] = gratuitous(MAC, HOME);
        for (i, v, what) in [
            (1, 6, "htype"),
            (3, 0xdd, "ptype"),
            (4, 8, "hlen"),
            (5, 16, "plen"),
            (7, 3, "op"),
        ] {
            let mut b = req;
            b[i] = v;
            assert!(
                matches!(
                    Repr::parse(&Packet::new_unchecked(&b[..])),
                    Err(Error::Unsupported { .. })
                ),
                "{what}"
            );
        }
        assert!(matches!(
            Repr::parse(&Packet::new_unchecked(&req[..27])),
            Err(Error::Truncated { .. })
        ));
        let asker = Repr {
            operation: Operation::Request,
            sender_hardware_addr: EthernetAddress([2, 0, 0, 0, 0, 9]),
            sender_protocol_addr: Ipv4Addr::new(10, 1, 0, 9),
            target_hardware_addr: EthernetAddress([0; 6]),
            target_protocol_addr: HOME,
        };
        let reply = proxy_reply(&asker, MAC);
        assert_eq!(
            (reply.sender_protocol_addr, reply.sender_hardware_addr),
            (HOME, MAC)
        );
        assert_eq!(reply.target_hardware_addr, asker.sender_hardware_addr);
    }

    proptest! {
        #[test]
        fn round_trip(b in prop::collection::vec(any::<u8>(), 0..40)) {
            let mut b = b;
            if b.len() >= 8 { b[0..6].copy_from_slice(&[0, 1, 8, 0, 6, 4]); b[6] = 0; }
            if let Ok(r) = Repr::parse(&Packet::new_unchecked(&b[..])) {
                prop_assert_eq!(&r.to_bytes()[..], &b[..PACKET_LEN]);
            }
        }
    }
}
