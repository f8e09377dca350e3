//! Interface names: IOS spellings to the names the daemon gives its Linux
//! interfaces (docs/operator-interface.md: `fastethernet 0` maps to
//! `FastEthernet0`).
//!
//! Rule: a known IOS interface type, spelled in full or abbreviated as IOS
//! allows (`fa0`, `FastEthernet0`, `fastethernet 0`, `dot11radio 0`,
//! `bvi1`), followed by its number (`0`, `0/1`, `0/1.10`), becomes the
//! canonical capitalised type plus the number. Any other single word
//! (`eth0`, `veth-x`, `br0`) is taken verbatim, as a Linux name; any other
//! `TYPE NUMBER` pair is joined (`Port-channel 1` → `Port-channel1`).

/// `(canonical, full lowercase spelling, shortest accepted abbreviation)`.
///
/// Abbreviation lengths are chosen so that no common Linux name is caught:
/// `eth0` stays `eth0` (Ethernet needs the full word), `lo` stays `lo`
/// (Loopback needs `loop`), `tun0` stays `tun0` (Tunnel needs the full
/// word).
const TYPES: &[(&str, &str, usize)] = &[
    ("FastEthernet", "fastethernet", 2),
    ("GigabitEthernet", "gigabitethernet", 2),
    ("TenGigabitEthernet", "tengigabitethernet", 2),
    ("Ethernet", "ethernet", 8),
    ("Dot11Radio", "dot11radio", 2),
    ("BVI", "bvi", 2),
    ("Serial", "serial", 2),
    ("Loopback", "loopback", 4),
    ("Tunnel", "tunnel", 6),
    ("Port-channel", "port-channel", 2),
];

/// An interface number: digits, optionally with `/`, `.` or `:` between
/// digit groups (`0`, `0/1`, `1/0/1.100`).
fn is_number(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b[0].is_ascii_digit()
        && b[b.len() - 1].is_ascii_digit()
        && b.iter()
            .all(|c| c.is_ascii_digit() || matches!(c, b'/' | b'.' | b':'))
        && !s.contains("//")
        && !s.contains("..")
}

/// The canonical type for `word` when it is a full or accepted abbreviated
/// spelling of a known type.
fn lookup_type(word: &str) -> Option<&'static str> {
    let lower = word.to_ascii_lowercase();
    TYPES
        .iter()
        .find(|(_, full, min)| lower.len() >= *min && full.starts_with(lower.as_str()))
        .map(|(canon, _, _)| *canon)
}

/// Splits `word` into a known type and its number (`fa0`, `Dot11Radio0`).
fn split_known(word: &str) -> Option<(&'static str, &str)> {
    let lower = word.to_ascii_lowercase();
    for (canon, full, min) in TYPES {
        for len in (*min..=full.len()).rev() {
            if lower.len() > len && lower.starts_with(&full[..len]) && is_number(&word[len..]) {
                return Some((canon, &word[len..]));
            }
        }
    }
    None
}

fn valid_word(word: &str) -> bool {
    !word.is_empty() && word.len() <= 64 && word.bytes().all(|b| b.is_ascii_graphic())
}

/// Normalises the interface name written as `words` (one or two words).
/// The error says what was expected.
pub fn normalize(words: &[&str]) -> Result<String, String> {
    match words {
        [] => {
            Err("expected an interface name (e.g. FastEthernet0, Dot11Radio0, BVI1, eth0)".into())
        }
        [word] => {
            if !valid_word(word) {
                return Err(format!(
                    "expected an interface name of printable characters, found \"{word}\""
                ));
            }
            if let Some((canon, number)) = split_known(word) {
                return Ok(format!("{canon}{number}"));
            }
            if let Some(canon) = lookup_type(word) {
                return Err(format!(
                    "expected an interface number after {canon} (e.g. {canon}0)"
                ));
            }
            Ok((*word).to_string())
        }
        [kind, number] => {
            if !is_number(number) {
                return Err(format!(
                    "expected an interface number after \"{kind}\", found \"{number}\""
                ));
            }
            if let Some(canon) = lookup_type(kind) {
                return Ok(format!("{canon}{number}"));
            }
            if !kind.is_empty()
                && kind.bytes().all(|b| b.is_ascii_alphabetic() || b == b'-')
                && kind.as_bytes()[0].is_ascii_alphabetic()
                && kind.len() <= 48
            {
                Ok(format!("{kind}{number}"))
            } else {
                Err(format!(
                    "expected an interface type such as FastEthernet, found \"{kind}\""
                ))
            }
        }
        _ => Err("expected one interface name (e.g. `fastethernet 0` or `eth0`)".into()),
    }
}

/// Normalises an interface name given as one string (`"fastethernet 0"`,
/// `"fa0"`, `"eth0"`).
pub fn normalize_interface_name(name: &str) -> Result<String, String> {
    let words: Vec<&str> = name.split_whitespace().collect();
    normalize(&words)
}

/// Whether `name` can be a Linux interface name (IFNAMSIZ 16 with the NUL,
/// no `/`, no whitespace, not `.` or `..`). `GigabitEthernet0/1` cannot.
pub fn is_linux_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 15
        && name != "."
        && name != ".."
        && name
            .bytes()
            .all(|b| b.is_ascii_graphic() && b != b'/' && b != b':')
}

/// How many words at the start of `words` form an interface name inside a
/// longer command (`ip route ... fastethernet 0 5`): two when the first is
/// a bare known type and the second its number, else one. (Unknown types
/// are not joined here: `lo 5` is interface `lo` then the number 5.)
pub(crate) fn name_len(words: &[&str]) -> usize {
    match words {
        [] => 0,
        [kind, number, ..]
            if lookup_type(kind).is_some()
                && is_number(number)
                && number.parse::<std::net::Ipv4Addr>().is_err() =>
        {
            2
        }
        _ => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> String {
        normalize_interface_name(s).unwrap()
    }

    #[test]
    fn ios_spellings() {
        assert_eq!(n("fastethernet 0"), "FastEthernet0");
        assert_eq!(n("FastEthernet0"), "FastEthernet0");
        assert_eq!(n("fa0"), "FastEthernet0");
        assert_eq!(n("FA 0"), "FastEthernet0");
        assert_eq!(n("dot11radio 0"), "Dot11Radio0");
        assert_eq!(n("Dot11Radio1"), "Dot11Radio1");
        assert_eq!(n("do0"), "Dot11Radio0");
        assert_eq!(n("bvi1"), "BVI1");
        assert_eq!(n("bvi 1"), "BVI1");
        assert_eq!(n("BVI1"), "BVI1");
        assert_eq!(n("gigabitethernet0/1"), "GigabitEthernet0/1");
        assert_eq!(n("gi0/1.100"), "GigabitEthernet0/1.100");
        assert_eq!(n("ethernet 0"), "Ethernet0");
        assert_eq!(n("loopback0"), "Loopback0");
        assert_eq!(n("serial 0/0"), "Serial0/0");
        assert_eq!(n("Port-channel 1"), "Port-channel1");
        assert_eq!(n("Virtual-Template 1"), "Virtual-Template1");
    }

    #[test]
    fn linux_names_pass_through() {
        for name in [
            "eth0", "veth-x", "br0", "lo", "tun0", "wlan0", "enp0s3", "veth0", "ha-core",
        ] {
            assert_eq!(n(name), name);
        }
    }

    #[test]
    fn refusals() {
        assert!(
            normalize_interface_name("fastethernet")
                .unwrap_err()
                .contains("interface number")
        );
        assert!(normalize_interface_name("").is_err());
        assert!(normalize_interface_name("fa x").is_err());
        assert!(normalize_interface_name("a b c").is_err());
        assert!(normalize_interface_name("9x 0").is_err());
    }

    #[test]
    fn linux_validity() {
        assert!(is_linux_name("FastEthernet0"));
        assert!(is_linux_name("BVI1"));
        assert!(!is_linux_name("GigabitEthernet0/1"));
        assert!(!is_linux_name("TenGigabitEthernet0"));
    }
}
