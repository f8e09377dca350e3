//! IOS EXEC command-line habits (docs/operator-interface.md): keywords
//! match case-insensitively and may be abbreviated to any unique prefix
//! (`sh ip mob bind`), and `?` lists what may follow (`show ip ?`).

/// What a position of a command takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Word {
    Keyword(&'static str),
    /// One operand (an address, `all`), described for `?`.
    Operand(&'static str),
    /// The rest of the line as it is (`configure LINE`).
    Rest(&'static str),
}

use Word::{Keyword as K, Operand, Rest};

/// Every EXEC command the node knows, keyword by keyword.
const COMMANDS: &[&[Word]] = &[
    &[K("show"), K("running-config")],
    &[K("show"), K("running-config"), K("keys")],
    &[K("show"), K("version")],
    &[K("show"), K("dhcp"), K("lease")],
    &[K("show"), K("ip"), K("mobile"), K("binding")],
    &[K("show"), K("ip"), K("mobile"), K("visitor")],
    &[K("show"), K("ip"), K("mobile"), K("traffic")],
    &[K("show"), K("ip"), K("mobile"), K("binding"), K("summary")],
    &[K("show"), K("ip"), K("mobile"), K("visitor"), K("pending")],
    &[K("show"), K("ip"), K("mobile"), K("globals")],
    &[K("show"), K("ip"), K("mobile"), K("interface")],
    &[K("show"), K("ip"), K("mobile"), K("host")],
    &[
        K("show"),
        K("ip"),
        K("mobile"),
        K("host"),
        Operand("A.B.C.D"),
    ],
    &[K("show"), K("ip"), K("mobile"), K("tunnel")],
    &[K("show"), K("ip"), K("mobile"), K("violation")],
    &[K("clear"), K("ip"), K("mobile"), K("traffic")],
    &[K("show"), K("ip"), K("mobile"), K("secure")],
    &[K("show"), K("ip"), K("mobile"), K("secure"), K("host")],
    &[K("show"), K("ip"), K("proxy-mobile")],
    &[K("show"), K("ip"), K("proxy-mobile"), K("visitor")],
    &[K("show"), K("ip"), K("proxy-mobile"), K("secure")],
    &[K("show"), K("ip"), K("proxy-mobile"), K("sa-binding")],
    &[K("show"), K("ip"), K("proxy-mobile"), K("subnet-table")],
    &[K("show"), K("ip"), K("proxy-mobile"), K("station-table")],
    &[K("clear"), K("ip"), K("mobile"), K("binding")],
    &[
        K("clear"),
        K("ip"),
        K("mobile"),
        K("binding"),
        Operand("A.B.C.D | all"),
    ],
    &[K("clear"), K("ip"), K("mobile"), K("visitor")],
    &[
        K("clear"),
        K("ip"),
        K("mobile"),
        K("visitor"),
        Operand("A.B.C.D | all"),
    ],
    &[K("clear"), K("ip"), K("proxy-mobile"), K("subnet-table")],
    &[K("refresh"), K("ip"), K("proxy-mobile"), K("subnet-table")],
    &[K("configure"), Rest("LINE[; LINE...]")],
    &[K("write"), K("memory")],
    &[K("copy"), K("running-config"), K("startup-config")],
    &[K("show"), K("startup-config")],
    &[K("show"), K("debugging")],
    &[K("undebug"), K("all")],
    &[K("no"), K("debug"), K("all")],
];

/// `debug ...`, and the same after `undebug` and `no debug`.
const DEBUG_TAILS: &[&[Word]] = &[
    &[K("ip"), K("mobile")],
    &[K("ip"), K("mobile"), K("advertise")],
    &[K("ip"), K("mobile"), K("host"), Operand("A.B.C.D | ACL")],
    &[K("ip"), K("mobile"), K("local-area")],
    &[K("ip"), K("mobile"), K("redundancy")],
    &[K("ip"), K("proxy-mobile")],
];

/// Every command: [`COMMANDS`] and the debug ones.
fn commands() -> Vec<Vec<Word>> {
    let mut all: Vec<Vec<Word>> = COMMANDS.iter().map(|c| c.to_vec()).collect();
    for tail in DEBUG_TAILS {
        for prefix in [&[K("debug")][..], &[K("undebug")], &[K("no"), K("debug")]] {
            all.push(prefix.iter().chain(tail.iter()).copied().collect());
        }
    }
    // `undebug ip mobile host` needs no address.
    all.push(vec![K("undebug"), K("ip"), K("mobile"), K("host")]);
    all.push(vec![K("no"), K("debug"), K("ip"), K("mobile"), K("host")]);
    all
}

/// The line typed, or what `?` asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    /// The command with every keyword in full and lower case; operands
    /// and the rest of a `configure` line as typed.
    Command(Vec<String>),
    /// `?`: what may follow, one per line.
    Help(String),
}

fn word_at(cmd: &[Word], i: usize) -> Option<Word> {
    match cmd.get(i) {
        Some(w) => Some(*w),
        // A `Rest` takes everything after it.
        None => match cmd.last() {
            Some(Rest(r)) if i >= cmd.len() => Some(Rest(r)),
            _ => None,
        },
    }
}

/// Expands abbreviations; the refusal is one line, IOS style.
pub fn parse(words: &[String]) -> Result<Parsed, String> {
    let mut done: Vec<String> = Vec::new();
    // Commands still possible after the words expanded so far.
    let all = commands();
    let mut live: Vec<&[Word]> = all.iter().map(Vec::as_slice).collect();
    for (i, typed) in words.iter().enumerate() {
        if let Some(prefix) = typed.strip_suffix('?') {
            return Ok(Parsed::Help(help(&live, i, prefix)));
        }
        if live.iter().any(|c| matches!(word_at(c, i), Some(Rest(_)))) {
            // `configure LINE`: the line is the configuration's, as typed.
            done.extend(words[i..].iter().cloned());
            return Ok(Parsed::Command(done));
        }
        let lower = typed.to_ascii_lowercase();
        let mut keywords: Vec<&'static str> = live
            .iter()
            .filter_map(|c| match word_at(c, i) {
                Some(K(k)) if k.starts_with(&lower) => Some(k),
                _ => None,
            })
            .collect();
        keywords.sort_unstable();
        keywords.dedup();
        let exact = keywords.iter().find(|k| **k == lower).copied();
        let chosen: Option<&'static str> = match (exact, keywords.len()) {
            (Some(k), _) => Some(k),
            (None, 1) => Some(keywords[0]),
            (None, 0) => None,
            (None, _) => {
                return Err(format!(
                    "% Ambiguous command: \"{}\" (could be {})",
                    words[..=i].join(" "),
                    keywords.join(", ")
                ));
            }
        };
        match chosen {
            Some(k) => {
                live.retain(|c| word_at(c, i) == Some(K(k)));
                done.push(k.to_owned());
            }
            None => {
                live.retain(|c| matches!(word_at(c, i), Some(Operand(_))));
                if live.is_empty() {
                    return Err(invalid(words, i));
                }
                done.push(typed.clone());
            }
        }
    }
    if !live.iter().any(|c| c.len() == done.len()) {
        return Err(if done.is_empty() {
            "% Incomplete command: type ? for a list of commands".into()
        } else {
            format!("% Incomplete command: \"{}\" (add ?)", words.join(" "))
        });
    }
    Ok(Parsed::Command(done))
}

/// IOS marks where the input went wrong.
fn invalid(words: &[String], at: usize) -> String {
    let before: usize = words[..at].iter().map(|w| w.len() + 1).sum();
    let line = words.join(" ");
    // Long operator input is quoted only in part.
    let shown: String = line.chars().take(200).collect();
    if before <= 200 {
        format!(
            "% Invalid input detected at '^' marker: \"{shown}\" at \"{}\"",
            words[at].chars().take(40).collect::<String>()
        )
    } else {
        format!("% Invalid input detected: \"{shown}...\"")
    }
}

/// `?` at position `i` after `prefix`: the keywords (and operands) that
/// may come there, and `<cr>` when the command may end before it.
fn help(live: &[&[Word]], i: usize, prefix: &str) -> String {
    let prefix = prefix.to_ascii_lowercase();
    let mut lines: Vec<String> = Vec::new();
    for c in live {
        match word_at(c, i) {
            Some(K(k)) if k.starts_with(&prefix) => lines.push(k.to_owned()),
            Some(Operand(d)) | Some(Rest(d)) if prefix.is_empty() => lines.push(d.to_owned()),
            None if c.len() == i && prefix.is_empty() => lines.push("<cr>".to_owned()),
            _ => {}
        }
    }
    lines.sort();
    lines.dedup();
    if lines.is_empty() {
        return "% Unrecognized command\n".into();
    }
    lines.iter().map(|l| format!("  {l}\n")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(line: &str) -> Result<Parsed, String> {
        parse(
            &line
                .split_whitespace()
                .map(str::to_owned)
                .collect::<Vec<_>>(),
        )
    }

    fn cmd(line: &str) -> Vec<String> {
        match p(line) {
            Ok(Parsed::Command(c)) => c,
            other => panic!("{line}: {other:?}"),
        }
    }

    #[test]
    fn abbreviations_and_case() {
        assert_eq!(cmd("sh ip mob bind"), ["show", "ip", "mobile", "binding"]);
        assert_eq!(
            cmd("SHOW IP MOBILE VISITOR"),
            ["show", "ip", "mobile", "visitor"]
        );
        assert_eq!(cmd("sh run"), ["show", "running-config"]);
        assert_eq!(
            cmd("sh ip proxy-mobile subnet"),
            ["show", "ip", "proxy-mobile", "subnet-table"]
        );
        assert_eq!(
            cmd("cl ip mob bin 10.1.0.50"),
            ["clear", "ip", "mobile", "binding", "10.1.0.50"]
        );
        // The configuration line is passed on as typed.
        assert_eq!(
            cmd("conf ip proxy-mobile Pause"),
            ["configure", "ip", "proxy-mobile", "Pause"]
        );
    }

    #[test]
    fn refusals_are_one_line() {
        let e = p("sh ip proxy-mobile s").unwrap_err();
        assert!(
            e.contains("Ambiguous")
                && e.contains("sa-binding, secure, station-table, subnet-table"),
            "{e}"
        );
        let e = p("show ip frobnicate").unwrap_err();
        assert!(
            e.contains("Invalid input") && e.contains("frobnicate"),
            "{e}"
        );
        let e = p("show ip").unwrap_err();
        assert!(e.contains("Incomplete"), "{e}");
        assert!(p("").is_err());
        let long = "x".repeat(100_000);
        let e = p(&format!("show {long}")).unwrap_err();
        assert!(e.len() < 400, "a long input is quoted only in part");
        assert!(!e.contains('\n'));
    }

    #[test]
    fn question_mark_lists_what_may_follow() {
        let Ok(Parsed::Help(h)) = p("show ip ?") else {
            panic!()
        };
        assert_eq!(h, "  mobile\n  proxy-mobile\n");
        let Ok(Parsed::Help(h)) = p("show ip mobile s?") else {
            panic!()
        };
        assert_eq!(h, "  secure\n");
        let Ok(Parsed::Help(h)) = p("show ip proxy-mobile ?") else {
            panic!()
        };
        assert!(h.contains("<cr>") && h.contains("visitor"), "{h}");
        let Ok(Parsed::Help(h)) = p("clear ip mobile binding ?") else {
            panic!()
        };
        assert!(h.contains("A.B.C.D | all") && h.contains("<cr>"), "{h}");
    }
}
