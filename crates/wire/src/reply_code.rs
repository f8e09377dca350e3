//! Registration Reply codes (RFC 5944 section 3.4, RFC 3024 section 4.3,
//! RFC 2794 section 4) with their RFC meaning.

use core::fmt;

macro_rules! reply_codes {
    ($( $(#[$doc:meta])* $name:ident = $value:literal, $text:literal; )*) => {
        /// The Code field of a Registration Reply. Values not assigned by
        /// the RFCs parse as [`ReplyCode::Other`] so parsing is lossless.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ReplyCode {
            $( $(#[$doc])* $name, )*
            /// A value no RFC we implement assigns.
            Other(u8),
        }

        impl From<u8> for ReplyCode {
            fn from(v: u8) -> ReplyCode {
                match v {
                    $( $value => ReplyCode::$name, )*
                    other => ReplyCode::Other(other),
                }
            }
        }

        impl From<ReplyCode> for u8 {
            fn from(c: ReplyCode) -> u8 {
                match c {
                    $( ReplyCode::$name => $value, )*
                    ReplyCode::Other(v) => v,
                }
            }
        }

        impl ReplyCode {
            /// The RFC's wording for this code.
            pub fn meaning(self) -> &'static str {
                match self {
                    $( ReplyCode::$name => $text, )*
                    ReplyCode::Other(_) => "unassigned code",
                }
            }

            /// Every code the RFCs assign, in numeric order.
            pub const ALL: &'static [ReplyCode] = &[ $( ReplyCode::$name, )* ];
        }
    };
}

reply_codes! {
    /// 0: registration accepted.
    Accepted = 0, "registration accepted";
    /// 1: accepted, but simultaneous mobility bindings unsupported.
    AcceptedNoSimultaneousBindings = 1, "registration accepted, but simultaneous mobility bindings unsupported";
    UnspecifiedFa = 64, "reason unspecified (foreign agent)";
    AdministrativelyProhibitedFa = 65, "administratively prohibited (foreign agent)";
    InsufficientResourcesFa = 66, "insufficient resources (foreign agent)";
    MobileNodeFailedAuthenticationFa = 67, "mobile node failed authentication (foreign agent)";
    HomeAgentFailedAuthentication = 68, "home agent failed authentication";
    LifetimeTooLong = 69, "requested Lifetime too long";
    PoorlyFormedRequestFa = 70, "poorly formed Request (foreign agent)";
    PoorlyFormedReply = 71, "poorly formed Reply";
    EncapsulationUnavailableFa = 72, "requested encapsulation unavailable (foreign agent)";
    /// 73: reserved and unavailable (was VJ compression).
    ReservedUnavailable = 73, "reserved and unavailable";
    /// RFC 3024 section 4.3.
    ReverseTunnelUnavailableFa = 74, "requested reverse tunnel unavailable (foreign agent)";
    /// RFC 3024 section 4.3.
    ReverseTunnelMandatoryFa = 75, "reverse tunnel is mandatory and 'T' bit not set (foreign agent)";
    /// RFC 3024 section 4.3.
    MobileNodeTooDistant = 76, "mobile node too distant";
    InvalidCareOfAddress = 77, "invalid care-of address";
    RegistrationTimeout = 78, "registration timeout";
    /// RFC 3024 section 4.3.
    DeliveryStyleNotSupported = 79, "delivery style not supported";
    HomeNetworkUnreachable = 80, "home network unreachable (ICMP error received)";
    HomeAgentHostUnreachable = 81, "home agent host unreachable (ICMP error received)";
    HomeAgentPortUnreachable = 82, "home agent port unreachable (ICMP error received)";
    HomeAgentUnreachable = 88, "home agent unreachable (other ICMP error received)";
    /// RFC 2794 section 4.
    NonzeroHomeAddressRequired = 96, "non-zero home address required";
    /// RFC 2794 section 4.
    MissingNai = 97, "missing NAI";
    /// RFC 2794 section 4.
    MissingHomeAgent = 98, "missing home agent";
    /// RFC 2794 section 4.
    MissingHomeAddress = 99, "missing home address";
    UnspecifiedHa = 128, "reason unspecified (home agent)";
    AdministrativelyProhibitedHa = 129, "administratively prohibited (home agent)";
    InsufficientResourcesHa = 130, "insufficient resources (home agent)";
    MobileNodeFailedAuthenticationHa = 131, "mobile node failed authentication (home agent)";
    ForeignAgentFailedAuthentication = 132, "foreign agent failed authentication";
    IdentificationMismatch = 133, "registration Identification mismatch";
    PoorlyFormedRequest = 134, "poorly formed Request (home agent)";
    TooManySimultaneousBindings = 135, "too many simultaneous mobility bindings";
    UnknownHomeAgentAddress = 136, "unknown home agent address";
    /// RFC 3024 section 4.3.
    ReverseTunnelUnavailableHa = 137, "requested reverse tunnel unavailable (home agent)";
    /// RFC 3024 section 4.3.
    ReverseTunnelMandatoryHa = 138, "reverse tunnel is mandatory and 'T' bit not set (home agent)";
    /// RFC 3024 section 4.3.
    EncapsulationUnavailableHa = 139, "requested encapsulation unavailable (home agent)";
}

impl ReplyCode {
    /// Codes 0 and 1 accept the registration.
    pub fn is_accepted(self) -> bool {
        u8::from(self) <= 1
    }
    /// 64–127: the foreign agent denied it (RFC 5944 3.4).
    pub fn denied_by_fa(self) -> bool {
        (64..128).contains(&u8::from(self))
    }
    /// 128–191: the home agent denied it.
    pub fn denied_by_ha(self) -> bool {
        (128..192).contains(&u8::from(self))
    }
}

impl fmt::Display for ReplyCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", u8::from(*self), self.meaning())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_value_round_trips() {
        for v in 0..=255u8 {
            assert_eq!(u8::from(ReplyCode::from(v)), v);
        }
        for c in ReplyCode::ALL {
            assert_ne!(c.meaning(), "unassigned code");
        }
        assert!(ReplyCode::Accepted.is_accepted());
        assert!(ReplyCode::AcceptedNoSimultaneousBindings.is_accepted());
        assert!(ReplyCode::RegistrationTimeout.denied_by_fa());
        assert!(ReplyCode::IdentificationMismatch.denied_by_ha());
        assert_eq!(
            ReplyCode::from(133).to_string(),
            "133 (registration Identification mismatch)"
        );
    }
}
