//! Who may do what: sessions (cookie), CSRF tokens, login tokens, HTTP
//! basic authentication for scripts, and the failed-login limiter.

use pmip_config::Username;
use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};
use subtle::ConstantTimeEq;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "pmip_session";
/// The pre-login cookie: the login form's double-submit token.
pub const LOGIN_COOKIE: &str = "pmip_login";

/// Failed logins from one address before it is locked out.
pub const MAX_FAILURES: u32 = 5;
/// How long a lockout lasts, and how long failures are remembered.
pub const LOCKOUT: Duration = Duration::from_secs(60);
/// Most sessions and pending login forms kept (oldest dropped first), so
/// a flood of logins cannot grow memory without bound.
const MAX_SESSIONS: usize = 256;
const MAX_LOGIN_TOKENS: usize = 1024;
/// Pending login forms kept for one client address: a flood of login
/// pages from one address drops its own forms, nobody else's.
const MAX_LOGIN_TOKENS_PER_SOURCE: usize = 16;
const LOGIN_TOKEN_LIFE: Duration = Duration::from_secs(600);

/// 32 random bytes as hex: session ids and CSRF tokens.
pub fn random_token() -> String {
    let mut b = [0u8; 32];
    getrandom::fill(&mut b).expect("the kernel's random source");
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Constant-time string equality (tokens, never short-circuiting on the
/// first differing byte).
pub fn same(a: &str, b: &str) -> bool {
    bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// A logged-in user's session.
#[derive(Debug, Clone)]
pub struct Session {
    pub user: String,
    /// Privilege 15: may change the configuration.
    pub can_configure: bool,
    /// Must come back in every form (CSRF).
    pub csrf: String,
    pub last_seen: Instant,
    /// A one-shot message for the next page (after a redirect).
    pub flash: Option<Flash>,
}

/// A message shown once at the top of a page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flash {
    pub ok: bool,
    pub text: String,
}

#[derive(Debug, Default)]
struct Failures {
    count: u32,
    last: Option<Instant>,
}

/// Sessions, pending login forms and failure counts.
#[derive(Debug, Default)]
pub struct Auth {
    sessions: HashMap<String, Session>,
    /// Pending login forms: when each was given out, and to whom.
    login_tokens: HashMap<String, (Instant, IpAddr)>,
    failures: HashMap<IpAddr, Failures>,
}

impl Auth {
    /// A fresh login-form token for a client at `ip` (set as a cookie
    /// and a hidden field). To make room, the address drops its own
    /// oldest form once it holds its share; when the table is full, the
    /// address holding the most forms drops its oldest.
    pub fn new_login_token(&mut self, ip: IpAddr, now: Instant) -> String {
        self.login_tokens
            .retain(|_, (t, _)| now.duration_since(*t) < LOGIN_TOKEN_LIFE);
        let mut per_source: HashMap<IpAddr, usize> = HashMap::new();
        for (_, from) in self.login_tokens.values() {
            *per_source.entry(*from).or_default() += 1;
        }
        let drop_from = if per_source.get(&ip).copied().unwrap_or(0) >= MAX_LOGIN_TOKENS_PER_SOURCE
        {
            Some(ip)
        } else if self.login_tokens.len() >= MAX_LOGIN_TOKENS {
            per_source
                .into_iter()
                .max_by_key(|(_, n)| *n)
                .map(|(a, _)| a)
        } else {
            None
        };
        if let Some(from) = drop_from
            && let Some(oldest) = self
                .login_tokens
                .iter()
                .filter(|(_, (_, a))| *a == from)
                .min_by_key(|(_, (t, _))| *t)
                .map(|(k, _)| k.clone())
        {
            self.login_tokens.remove(&oldest);
        }
        let t = random_token();
        self.login_tokens.insert(t.clone(), (now, ip));
        t
    }

    /// Whether the form's token matches the cookie's and is one we gave
    /// out; it is used up either way.
    pub fn take_login_token(&mut self, cookie: Option<&str>, form: Option<&str>) -> bool {
        match (cookie, form) {
            (Some(c), Some(f)) if same(c, f) => self.login_tokens.remove(c).is_some(),
            _ => false,
        }
    }

    /// Seconds until `ip` may try again, when it is locked out.
    pub fn locked_out(&mut self, ip: IpAddr, now: Instant) -> Option<u64> {
        let f = self.failures.get(&ip)?;
        let last = f.last?;
        let since = now.duration_since(last);
        if since >= LOCKOUT {
            self.failures.remove(&ip);
            return None;
        }
        (f.count >= MAX_FAILURES).then(|| (LOCKOUT - since).as_secs().max(1))
    }

    /// Starts a login attempt from `ip` (a form or basic authentication):
    /// `Err(seconds to wait)` when the address is locked out, otherwise
    /// the attempt counts as a failure now, before its password is
    /// checked, so a burst of parallel guesses cannot outrun the count
    /// (only [`MAX_FAILURES`] of them get checked). A success forgets it.
    pub fn begin_attempt(&mut self, ip: IpAddr, now: Instant) -> Result<(), u64> {
        if let Some(wait) = self.locked_out(ip, now) {
            return Err(wait);
        }
        let f = self.failures.entry(ip).or_default();
        f.count += 1;
        f.last = Some(now);
        // Bound the table: forget addresses whose failures are old.
        if self.failures.len() > 4096 {
            self.failures
                .retain(|_, f| f.last.is_some_and(|l| now.duration_since(l) < LOCKOUT));
        }
        Ok(())
    }

    pub fn succeeded(&mut self, ip: IpAddr) {
        self.failures.remove(&ip);
    }

    /// Starts a session for `user`; returns its id (the cookie value).
    pub fn login(&mut self, user: &Username, now: Instant) -> String {
        if self.sessions.len() >= MAX_SESSIONS
            && let Some(oldest) = self
                .sessions
                .iter()
                .min_by_key(|(_, s)| s.last_seen)
                .map(|(k, _)| k.clone())
        {
            self.sessions.remove(&oldest);
        }
        let id = random_token();
        self.sessions.insert(
            id.clone(),
            Session {
                user: user.name.clone(),
                can_configure: user.privilege() >= 15,
                csrf: random_token(),
                last_seen: now,
                flash: None,
            },
        );
        id
    }

    pub fn logout(&mut self, id: &str) {
        self.sessions.remove(id);
    }

    /// The live session `id`, touched; sessions idle for `idle` are gone.
    pub fn session(&mut self, id: &str, now: Instant, idle: Duration) -> Option<&mut Session> {
        self.sessions
            .retain(|_, s| now.duration_since(s.last_seen) < idle);
        let s = self.sessions.get_mut(id)?;
        s.last_seen = now;
        Some(s)
    }

    /// Drops the sessions of users no longer configured (or whose
    /// privilege changed): a configuration change takes effect at once.
    pub fn retain_users(&mut self, users: &[Username]) {
        self.sessions.retain(|_, s| {
            users
                .iter()
                .any(|u| u.name == s.user && (u.privilege() >= 15) == s.can_configure)
        });
    }

    #[cfg(test)]
    pub fn session_count(&self) -> usize {
        self.sessions.len()
    }
}

/// The value of cookie `name` in a `Cookie:` header.
pub fn cookie<'a>(header: &'a str, name: &str) -> Option<&'a str> {
    header.split(';').find_map(|kv| {
        let (k, v) = kv.trim().split_once('=')?;
        (k == name).then_some(v)
    })
}

/// `Authorization: Basic ...` as (user, password).
pub fn basic_credentials(header: &str) -> Option<(String, String)> {
    use base64::Engine as _;
    let b64 = header
        .strip_prefix("Basic ")
        .or_else(|| header.strip_prefix("basic "))?;
    let raw = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .ok()?;
    let text = String::from_utf8(raw).ok()?;
    let (u, p) = text.split_once(':')?;
    Some((u.to_string(), p.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use pmip_config::Credential;

    fn user(name: &str, privilege: Option<u8>) -> Username {
        Username {
            name: name.into(),
            privilege,
            credential: Credential::Password("pw".into()),
        }
    }

    #[test]
    fn tokens_are_random_and_compared_whole() {
        let a = random_token();
        let b = random_token();
        assert_eq!(a.len(), 64);
        assert_ne!(a, b);
        assert!(same(&a, &a.clone()));
        assert!(!same(&a, &b));
        assert!(!same(&a, &a[..63]));
    }

    #[test]
    fn login_token_must_match_cookie_and_is_single_use() {
        let mut auth = Auth::default();
        let now = Instant::now();
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let t = auth.new_login_token(ip, now);
        assert!(!auth.take_login_token(Some(&t), Some("other")));
        assert!(!auth.take_login_token(None, Some(&t)));
        assert!(auth.take_login_token(Some(&t), Some(&t)));
        assert!(!auth.take_login_token(Some(&t), Some(&t)), "used up");
        // A token we never gave out is refused even when both agree.
        assert!(!auth.take_login_token(Some("x"), Some("x")));
    }

    #[test]
    fn a_flood_of_login_forms_drops_only_its_own() {
        let mut auth = Auth::default();
        let now = Instant::now();
        let operator: IpAddr = "192.0.2.1".parse().unwrap();
        let mine = auth.new_login_token(operator, now);
        // One address asks for ten thousand forms.
        let flooder: IpAddr = "192.0.2.66".parse().unwrap();
        for _ in 0..10_000 {
            auth.new_login_token(flooder, now);
        }
        assert_eq!(auth.login_tokens.len(), 1 + MAX_LOGIN_TOKENS_PER_SOURCE);
        // Many addresses with two forms each fill the table: those
        // holding the most give way, not the operator's single form.
        for i in 0..MAX_LOGIN_TOKENS {
            let ip = IpAddr::from([198, 51, (i / 200) as u8, (i % 200) as u8]);
            auth.new_login_token(ip, now);
            auth.new_login_token(ip, now);
        }
        assert!(auth.login_tokens.len() <= MAX_LOGIN_TOKENS);
        assert!(auth.take_login_token(Some(&mine), Some(&mine)));
    }

    #[test]
    fn lockout_after_repeated_failures_then_expires() {
        let mut auth = Auth::default();
        let ip: IpAddr = "192.0.2.7".parse().unwrap();
        let t0 = Instant::now();
        for _ in 0..MAX_FAILURES - 1 {
            assert_eq!(auth.begin_attempt(ip, t0), Ok(()));
        }
        assert_eq!(auth.locked_out(ip, t0), None);
        assert_eq!(auth.begin_attempt(ip, t0), Ok(()), "the fifth is checked");
        assert_eq!(auth.locked_out(ip, t0), Some(LOCKOUT.as_secs()));
        assert_eq!(
            auth.begin_attempt(ip, t0),
            Err(LOCKOUT.as_secs()),
            "the sixth is refused unchecked"
        );
        let other: IpAddr = "192.0.2.8".parse().unwrap();
        assert_eq!(auth.locked_out(other, t0), None, "per address");
        assert_eq!(auth.locked_out(ip, t0 + LOCKOUT), None, "expires");
        assert_eq!(auth.begin_attempt(ip, t0 + LOCKOUT), Ok(()));
        assert_eq!(auth.locked_out(ip, t0 + LOCKOUT), None, "count restarted");
    }

    #[test]
    fn attempts_count_when_they_start_and_a_success_forgets_them() {
        let mut auth = Auth::default();
        let ip: IpAddr = "192.0.2.9".parse().unwrap();
        let t0 = Instant::now();
        // Fifty attempts at once, none finished: five may go on.
        let started = (0..50)
            .filter(|_| auth.begin_attempt(ip, t0).is_ok())
            .count();
        assert_eq!(started, MAX_FAILURES as usize);
        // A right password (one of the five) forgets the count.
        auth.succeeded(ip);
        assert_eq!(auth.begin_attempt(ip, t0), Ok(()));
    }

    #[test]
    fn sessions_expire_when_idle_and_follow_the_user_list() {
        let mut auth = Auth::default();
        let t0 = Instant::now();
        let admin = user("admin", None);
        let viewer = user("viewer", Some(1));
        let a = auth.login(&admin, t0);
        let v = auth.login(&viewer, t0);
        let idle = Duration::from_secs(60);
        let s = auth.session(&a, t0, idle).unwrap();
        assert!(s.can_configure);
        assert_eq!(s.csrf.len(), 64);
        assert!(!auth.session(&v, t0, idle).unwrap().can_configure);
        assert!(auth.session("nope", t0, idle).is_none());
        // Touched at t0+50: still alive at t0+100; v was not touched.
        auth.session(&a, t0 + Duration::from_secs(50), idle)
            .unwrap();
        assert!(
            auth.session(&a, t0 + Duration::from_secs(100), idle)
                .is_some()
        );
        assert!(
            auth.session(&v, t0 + Duration::from_secs(100), idle)
                .is_none()
        );
        // Removing the user ends the session.
        auth.retain_users(&[viewer]);
        assert_eq!(auth.session_count(), 0);
        let a = auth.login(&admin, t0);
        auth.logout(&a);
        assert!(auth.session(&a, t0, idle).is_none());
    }

    #[test]
    fn cookies_and_basic_auth_are_read() {
        assert_eq!(
            cookie("a=1; pmip_session=xyz; b=2", SESSION_COOKIE),
            Some("xyz")
        );
        assert_eq!(cookie("pmip_sessionx=1", SESSION_COOKIE), None);
        // "admin:pa:ss" in base64.
        assert_eq!(
            basic_credentials("Basic YWRtaW46cGE6c3M="),
            Some(("admin".into(), "pa:ss".into()))
        );
        assert_eq!(basic_credentials("Bearer x"), None);
        assert_eq!(basic_credentials("Basic !!!"), None);
    }
}
