//! The home agent's view of its messages: reads a Registration Request
//! into the fields the engine decides on, authenticates it, and writes
//! signed replies and Binding Updates, all through the wire crate.

use crate::binding::Binding;
use crate::security::SecurityAssociation;
use core::net::Ipv4Addr;
use pmip_wire::binding_update::{self, AckRepr, UpdateRepr};
use pmip_wire::extension::{self, Extensions, kind};
use pmip_wire::identification::Identification;
use pmip_wire::registration::{self, ReplyCode, ReplyRepr, RequestPacket, RequestRepr};
use pmip_wire::tunnel::Encapsulation;

pub const PORT: u16 = pmip_wire::udp::MOBILE_IP_PORT;
pub const TYPE_REGISTRATION_REQUEST: u8 = registration::TYPE_REQUEST;
pub const TYPE_REGISTRATION_REPLY: u8 = registration::TYPE_REPLY;
pub const TYPE_BINDING_UPDATE: u8 = binding_update::TYPE_BINDING_UPDATE;
pub const TYPE_BINDING_ACK: u8 = binding_update::TYPE_BINDING_ACK;

/// What the home agent needs from a Registration Request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub lifetime: u16,
    pub home_address: Ipv4Addr,
    pub home_agent: Ipv4Addr,
    pub care_of_address: Ipv4Addr,
    pub identification: u64,
    pub simultaneous: bool,
    pub broadcast: bool,
    pub decapsulation_by_mn: bool,
    pub minimal_encapsulation: bool,
    pub gre: bool,
    pub reverse_tunnel: bool,
    /// Offset and SPI of the Mobile-Home Authentication Extension.
    pub mhae: Option<(usize, u32)>,
    /// Offset and SPI of the Foreign-Home Authentication Extension.
    pub fhae: Option<(usize, u32)>,
}

/// Why a request could not be used.
#[derive(Debug)]
pub enum ParseFailure {
    /// Not even the fixed part is readable: nothing to answer.
    Unreadable(pmip_wire::Error),
    /// The fixed part is readable but the message is not (bad
    /// extension): answer 134 about the home address it names.
    PoorlyFormed(Request, pmip_wire::Error),
}

fn fixed(p: &RequestPacket<&[u8]>) -> Request {
    let f = p.flags();
    Request {
        lifetime: p.lifetime(),
        home_address: p.home_address(),
        home_agent: p.home_agent(),
        care_of_address: p.care_of_address(),
        identification: p.identification().0,
        simultaneous: f.simultaneous,
        broadcast: f.broadcast,
        decapsulation_by_mn: f.decapsulation_by_mn,
        minimal_encapsulation: f.minimal_encapsulation,
        gre: f.gre,
        reverse_tunnel: f.reverse_tunnel,
        mhae: None,
        fhae: None,
    }
}

/// Parses a Registration Request. RFC 5944 3.5.2/3.6.1.3: the MHAE
/// must follow every extension it protects, so only what precedes it
/// counts; the FHAE, when present, follows the MHAE.
pub fn parse_request(payload: &[u8]) -> Result<Request, ParseFailure> {
    let packet = RequestPacket::new_checked(payload).map_err(ParseFailure::Unreadable)?;
    let mut req = fixed(&packet);
    if packet.msg_type() != registration::TYPE_REQUEST {
        return Err(ParseFailure::Unreadable(pmip_wire::Error::Unsupported {
            what: "registration message type",
            value: packet.msg_type().into(),
        }));
    }
    let repr = match RequestRepr::parse(&packet) {
        Ok(r) => r,
        Err(e) => return Err(ParseFailure::PoorlyFormed(req, e)),
    };
    req.mhae =
        registration::find_extension(payload, registration::REQUEST_LEN, kind::MOBILE_HOME_AUTH)
            .and_then(|at| spi_at(payload, at).map(|spi| (at, spi)));
    req.fhae =
        registration::find_extension(payload, registration::REQUEST_LEN, kind::FOREIGN_HOME_AUTH)
            .and_then(|at| spi_at(payload, at).map(|spi| (at, spi)));
    if let (Some((fh, _)), Some((mh, _))) = (req.fhae, req.mhae)
        && fh < mh
    {
        return Err(ParseFailure::PoorlyFormed(
            req,
            pmip_wire::Error::Malformed {
                what: "Registration Request",
                reason: "Foreign-Home authentication before Mobile-Home authentication",
            },
        ));
    }
    // RFC 5944 3.3: the r and x bits are sent as zero and ignored.
    let _ = repr;
    Ok(req)
}

fn spi_at(payload: &[u8], at: usize) -> Option<u32> {
    let b = payload.get(at + 2..at + 6)?;
    Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

/// RFC 5944 3.8.2.1: the MHAE is present, names the SA's SPI, and its
/// authenticator verifies.
pub fn verify_mhae(payload: &[u8], req: &Request, sa: &SecurityAssociation) -> bool {
    match req.mhae {
        Some((at, spi)) if spi == sa.spi => {
            extension::verify_authentication(payload, at, sa.algorithm, &sa.key)
        }
        _ => false,
    }
}

/// RFC 5944 3.5.4: with an SA shared with the foreign agent, the FHAE
/// must be present and verify.
pub fn verify_fhae(payload: &[u8], req: &Request, sa: &SecurityAssociation) -> bool {
    match req.fhae {
        Some((at, spi)) if spi == sa.spi => {
            extension::verify_authentication(payload, at, sa.algorithm, &sa.key)
        }
        _ => false,
    }
}

/// The fields of a reply the home agent sends.
pub struct ReplyParams<'a> {
    pub code: ReplyCode,
    pub lifetime: u16,
    pub home_address: Ipv4Addr,
    pub home_agent: Ipv4Addr,
    pub identification: u64,
    /// Sign with the mobile node's SA (MHAE), when we have one.
    pub mhae: Option<&'a SecurityAssociation>,
    /// Then with the foreign agent's SA (FHAE), when we have one.
    pub fhae: Option<&'a SecurityAssociation>,
}

/// A Registration Reply, signed as RFC 5944 3.5 orders: MHAE over the
/// message, then FHAE over everything before it.
pub fn build_reply(p: &ReplyParams<'_>) -> Vec<u8> {
    let mut msg = ReplyRepr {
        code: p.code,
        lifetime: p.lifetime,
        home_address: p.home_address,
        home_agent: p.home_agent,
        identification: Identification(p.identification),
        extensions: Extensions::new(),
    }
    .to_vec();
    if let Some(sa) = p.mhae {
        extension::append_authentication(
            &mut msg,
            kind::MOBILE_HOME_AUTH,
            sa.spi,
            sa.algorithm,
            &sa.key,
        );
    }
    if let Some(sa) = p.fhae {
        extension::append_authentication(
            &mut msg,
            kind::FOREIGN_HOME_AUTH,
            sa.spi,
            sa.algorithm,
            &sa.key,
        );
    }
    msg
}

/// A Binding Update telling a previous foreign agent where the mobile
/// node of `new` is now, authenticated with the SA we share with it.
pub fn binding_update(
    new: &Binding,
    ack: bool,
    identification: u64,
    sa: &SecurityAssociation,
) -> Vec<u8> {
    let mut msg = UpdateRepr {
        acknowledge: ack,
        identification_present: true,
        minimal_encapsulation: false,
        gre: matches!(new.encapsulation, Encapsulation::Gre { .. }),
        reserved: 0,
        lifetime: new.lifetime,
        home_address: new.home_address,
        care_of_address: new.care_of_address,
        identification: Identification(identification),
        extensions: Extensions::new(),
    }
    .to_vec();
    extension::append_authentication(
        &mut msg,
        kind::ROUTE_OPTIMIZATION_AUTH,
        sa.spi,
        sa.algorithm,
        &sa.key,
    );
    msg
}

/// The home address a Binding Acknowledge answers for.
pub struct BindingAck {
    pub home_address: Ipv4Addr,
    pub negative: bool,
}

pub fn parse_binding_ack(payload: &[u8]) -> Result<BindingAck, pmip_wire::Error> {
    let a = AckRepr::parse(payload)?;
    Ok(BindingAck {
        home_address: a.home_address,
        negative: a.negative,
    })
}
