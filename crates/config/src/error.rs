//! The error a refused configuration line gives.

/// A refused line: its number (1-based), its text and what was expected.
///
/// Displays as `line 7: "ip mobile secure host 10.0.0.1 spi x" — expected
/// ...`, the one-line reason `pmip run` and `pmip exec configure` print.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: \"{}\" — {}", short(.text, 80), short(.reason, 240))]
pub struct ConfigError {
    /// 1-based line number (1 for a single line given to
    /// [`crate::Config::apply_line`]).
    pub line: usize,
    /// The command as read (trimmed, prompt removed).
    pub text: String,
    /// What was wrong or expected.
    pub reason: String,
}

/// At most `max` characters of `s`, marked when cut: a refusal quotes a
/// short prefix of a long line, never the whole of it.
fn short(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((at, _)) => format!("{}…", &s[..at]),
        None => s.to_owned(),
    }
}
