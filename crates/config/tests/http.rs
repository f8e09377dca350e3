//! `ip http ...` and `username ...`: parsing, refusals with the
//! line number, masking in `show running-config`, and IOS type 9 secrets.

use pmip_config::{Config, Credential, KEY_MASK, Mode, type9_hash_with_salt};

const WEB: &str = "\
hostname ap1
ip http server
ip http port 8080
ip http authentication local
username admin secret 0 s3cret pass
username viewer privilege 1 password 0 look
";

#[test]
fn web_lines_parse() {
    let c = Config::parse(WEB).unwrap();
    assert!(c.http.server);
    assert_eq!(c.http.port(), 8080);
    assert!(c.http.authentication_local);
    let admin = c.username("admin").unwrap();
    assert_eq!(admin.privilege(), 15, "pmip's default privilege");
    assert!(matches!(&admin.credential, Credential::Secret(h) if h.starts_with("$9$")));
    // The secret is the rest of the line, spaces included.
    assert!(admin.verify("s3cret pass"));
    assert!(!admin.verify("s3cret"));
    let viewer = c.username("viewer").unwrap();
    assert_eq!(viewer.privilege(), 1);
    assert!(viewer.verify("look"));
    assert!(!viewer.verify("Look"));
    assert!(c.warnings().is_empty(), "{:?}", c.warnings());
}

#[test]
fn defaults() {
    let c = Config::parse("ip http server\n").unwrap();
    assert_eq!(c.http.port(), 80);
    assert!(!c.http.authentication_local);
    assert!(
        c.warnings().iter().any(|w| w.contains("nobody can log in")),
        "{:?}",
        c.warnings()
    );
}

#[test]
fn type9_known_answer() {
    // hashcat's example hash for mode 9300 (Cisco-IOS $9$, scrypt), and
    // Python's hashlib.scrypt(b"hashcat", salt=b"2MJBozw/9R3UsU", n=16384,
    // r=1, p=1, dklen=32) re-encoded with the crypt alphabet agree on it.
    let h = type9_hash_with_salt("hashcat", "2MJBozw/9R3UsU").unwrap();
    assert_eq!(
        h,
        "$9$2MJBozw/9R3UsU$2lFhcKvpghcyw8deP25GOfyZaagyUOGBymkryvOdfo6"
    );
    // A hash from an IOS device loads and verifies.
    let c = Config::parse(&format!("username cisco secret 9 {h}\n")).unwrap();
    assert!(c.username("cisco").unwrap().verify("hashcat"));
    assert!(!c.username("cisco").unwrap().verify("hashcat "));
    assert!(type9_hash_with_salt("x", "short").is_none());
}

#[test]
fn secrets_masked_unless_keys_and_round_trip() {
    let c = Config::parse(WEB).unwrap();
    let masked = c.running_config(false);
    assert!(
        masked.contains(&format!("username admin secret 9 {KEY_MASK}")),
        "{masked}"
    );
    assert!(masked.contains(&format!(
        "username viewer privilege 1 password 0 {KEY_MASK}"
    )));
    assert!(!masked.contains("look"));
    assert!(!masked.contains("$9$"), "hashes are masked too");
    assert!(masked.contains("ip http server\nip http port 8080\nip http authentication local\n"));
    // A masked configuration does not load by mistake.
    let err = Config::parse(&masked).unwrap_err();
    assert!(err.reason.contains("masked"), "{err}");

    let full = c.running_config(true);
    assert!(full.contains("username viewer privilege 1 password 0 look\n"));
    let again = Config::parse(&full).unwrap();
    assert_eq!(
        again, c,
        "printed with keys, parsed again: equal (same hash)"
    );
    assert!(again.username("admin").unwrap().verify("s3cret pass"));
}

#[test]
fn same_secret_twice_gets_different_salts() {
    let a = Config::parse("username a secret 0 pw\n").unwrap();
    let b = Config::parse("username a secret 0 pw\n").unwrap();
    assert_ne!(a, b, "a fresh salt per hash");
    assert!(a.username("a").unwrap().verify("pw") && b.username("a").unwrap().verify("pw"));
}

#[test]
fn algorithm_type_scrypt_and_plain_secret() {
    let c = Config::parse("username a algorithm-type scrypt secret pw\nusername b secret pw2\n")
        .unwrap();
    assert!(c.username("a").unwrap().verify("pw"));
    assert!(c.username("b").unwrap().verify("pw2"));
}

#[test]
fn reentering_replaces_and_no_removes() {
    let mut c = Config::parse("username a password 0 one\nusername b password 0 two\n").unwrap();
    let mut mode = Mode::Global;
    c.apply_line(&mut mode, "username a password 0 three")
        .unwrap();
    assert_eq!(c.usernames.len(), 2);
    assert!(c.username("a").unwrap().verify("three"));
    c.apply_line(&mut mode, "no username a").unwrap();
    assert!(c.username("a").is_none());
    c.apply_line(&mut mode, "no ip http server").unwrap();
    c.apply_line(&mut mode, "ip http port 81").unwrap();
    c.apply_line(&mut mode, "no ip http port").unwrap();
    assert_eq!(c.http.port(), 80);
    // From interface mode the lines fall back to global mode, as in IOS.
    let mut mode = Mode::Interface("BVI1".into());
    c.apply_line(&mut mode, "ip http server").unwrap();
    assert_eq!(mode, Mode::Global);
    assert!(c.http.server);
}

#[test]
fn https_no_forms_are_accepted() {
    let c = Config::parse("no ip http secure-server\nip http server\n").unwrap();
    assert!(c.http.server);
}

/// Each refused line names its number, changes nothing, and says why.
#[test]
fn refusals() {
    let cases: &[(&str, usize, &str)] = &[
        ("hostname a\nip http port 0", 2, "port must be 1-65535"),
        ("ip http port 70000", 1, "port must be 1-65535"),
        ("ip http port x", 1, "a number for port"),
        ("ip http server now", 1, "unexpected \"now\""),
        ("ip http authentication enable", 1, "`local`"),
        ("ip http secure-server", 1, "HTTPS is not supported"),
        (
            "ip http frob",
            1,
            "`server`, `port N` or `authentication local`",
        ),
        ("!\nusername", 2, "a user name"),
        ("username a", 1, "`password` or `secret`"),
        ("username a secret", 1, "the secret after secret"),
        (
            "username a password 7 0822455D0A16",
            1,
            "password type 7 is not supported",
        ),
        (
            "username a secret 5 $1$abcd$efgh",
            1,
            "secret type 5 is not supported",
        ),
        ("username a secret 9 $9$bad$hash", 1, "a type 9 secret is"),
        (
            "username a privilege 16 secret 0 x",
            1,
            "privilege must be 0-15",
        ),
        ("username a secret 9 ********", 1, "masked"),
        ("username a algorithm-type md5 secret x", 1, "`scrypt`"),
    ];
    for (text, line, reason) in cases {
        let err = Config::parse(text).unwrap_err();
        assert_eq!(err.line, *line, "{text}: {err}");
        assert!(err.reason.contains(reason), "{text}: {err}");
    }
    let mut c = Config::parse(WEB).unwrap();
    let before = c.clone();
    let mut mode = Mode::Global;
    assert!(c.apply_line(&mut mode, "ip http port 0").is_err());
    assert!(
        c.apply_line(&mut mode, "username admin secret 7 x")
            .is_err()
    );
    assert_eq!(c, before, "a refused line changes nothing");
}

#[test]
fn debug_hides_credentials() {
    let c = Config::parse(WEB).unwrap();
    let d = format!("{:?}", c.usernames);
    assert!(!d.contains("look") && !d.contains("$9$"), "{d}");
}
