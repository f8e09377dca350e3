//! The home agent's view of its messages: reads a Registration Request
//! into the fields the engine decides on, authenticates it, and writes
//! signed replies and Binding Updates, all through the wire crate.

use crate::binding::Binding;
use crate::security::SecurityAssociation;
use core::net::Ipv4Addr;
use pmip_wire::binding_update::{self, AckRepr, UpdateRepr};
use pmip_wire::extension::{self, AuthSpan, Extensions, kind};
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
    /// The Mobile-Home Authentication Extension: SPI, offset and the
    /// span its authenticator covers.
    pub mhae: Option<AuthSpan>,
    /// The Foreign-Home Authentication Extension, likewise.
    pub fhae: Option<AuthSpan>,
}

/// Why a request could not be used.
#[derive(Debug)]
pub enum ParseFailure {
    /// Not even the fixed part is readable: nothing to answer.
    Unreadable(pmip_wire::Error),
    /// The fixed part is readable but the message is not (bad
    /// extension): answer 134 about the home address it names.
    PoorlyFormed(Box<Request>, pmip_wire::Error),
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

/// Parses a Registration Request, its extensions once. RFC 5944
/// 3.5.2/3.6.1.3: the MHAE must follow every extension it protects, so
/// only what precedes it counts; the FHAE, when present, follows the
/// MHAE (one before it makes the request poorly formed). The r and x
/// flags are sent as zero and ignored (RFC 5944 3.3).
pub fn parse_request(payload: &[u8]) -> Result<Request, ParseFailure> {
    let packet = RequestPacket::new_checked(payload).map_err(ParseFailure::Unreadable)?;
    let mut req = fixed(&packet);
    if packet.msg_type() != registration::TYPE_REQUEST {
        return Err(ParseFailure::Unreadable(pmip_wire::Error::Unsupported {
            what: "registration message type",
            value: packet.msg_type().into(),
        }));
    }
    let list = match RequestRepr::parse_located(&packet) {
        Ok((_, list)) => list,
        Err(e) => return Err(ParseFailure::PoorlyFormed(Box::new(req), e)),
    };
    req.mhae = list.auth(kind::MOBILE_HOME_AUTH);
    req.fhae = list.auth(kind::FOREIGN_HOME_AUTH);
    if let (Some(fh), Some(mh)) = (&req.fhae, &req.mhae)
        && fh.offset < mh.offset
    {
        return Err(ParseFailure::PoorlyFormed(
            Box::new(req),
            pmip_wire::Error::Malformed {
                what: "Registration Request",
                reason: "Foreign-Home authentication before Mobile-Home authentication",
            },
        ));
    }
    Ok(req)
}

/// Whether the authentication extension recorded in `span` names the SA's
/// SPI and its authenticator verifies over the span it covers.
pub fn verify_span(payload: &[u8], span: Option<&AuthSpan>, sa: &SecurityAssociation) -> bool {
    span.is_some_and(|s| s.spi == sa.spi && s.verify(payload, sa.algorithm, &sa.key))
}

/// RFC 5944 3.8.2.1: the MHAE is present, names the SA's SPI, and its
/// authenticator verifies.
pub fn verify_mhae(payload: &[u8], req: &Request, sa: &SecurityAssociation) -> bool {
    verify_span(payload, req.mhae.as_ref(), sa)
}

/// RFC 5944 3.5.4: with an SA shared with the foreign agent, the FHAE
/// must be present and verify.
pub fn verify_fhae(payload: &[u8], req: &Request, sa: &SecurityAssociation) -> bool {
    verify_span(payload, req.fhae.as_ref(), sa)
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
