//! `pmip console`: an EXEC session on a running device, as on the
//! router's console port. The prompt is the device's hostname (`r1#`);
//! `configure terminal` enters configuration mode (`r1(config)#`,
//! `r1(config-if)#` ...) where each line is applied as `configure LINE`
//! and `end`, `exit` at the top or Ctrl-Z leave it. On a terminal the line
//! is edited with history and Tab completion (the device's own `?` help
//! says what may follow); from a pipe the lines are read as they come and
//! echoed after the prompt, so the output reads like a session log.
//!
//! Every command is one request on the control socket, the same as
//! `pmip exec`: the device keeps no session state, so the console keeps
//! the configuration mode and sends the line that entered it (`interface
//! FastEthernet0`) before each line typed in it, in one all-or-nothing
//! `configure`.

use pmip_config::Mode;
use pmip_device::control::{self, Request};
use rustyline::completion::{Completer, Pair};
use rustyline::error::ReadlineError;
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::history::DefaultHistory;
use rustyline::validate::Validator;
use rustyline::{
    Cmd, CompletionType, ConditionalEventHandler, Context, Editor, Event, EventContext,
    EventHandler, Helper, KeyCode, KeyEvent, Modifiers, RepeatCount,
};
use std::cell::RefCell;
use std::io::{self, BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

/// The longest line the console takes. A command or configuration line
/// is short; anything longer is a paste gone wrong and is refused whole
/// rather than cut.
pub const MAX_LINE: usize = 4096;

/// A device that does not answer within this is reported, not waited on.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(30);

/// The device behind a control socket.
struct Device {
    path: PathBuf,
    rt: tokio::runtime::Runtime,
}

/// A command's outcome: the device's output or its one-line refusal; the
/// outer error is a device that cannot be reached.
type Answer = Result<Result<String, String>, String>;

impl Device {
    fn call(&self, words: Vec<String>, json: bool) -> Answer {
        let req = Request { words, json };
        let answer = self.rt.block_on(async {
            tokio::time::timeout(ANSWER_TIMEOUT, control::call(&self.path, &req)).await
        });
        match answer {
            Err(_) => Err(format!(
                "the device at {} did not answer within {} s",
                self.path.display(),
                ANSWER_TIMEOUT.as_secs()
            )),
            Ok(Err(e)) => Err(e.to_string()),
            Ok(Ok(r)) if r.ok => Ok(Ok(r.output.unwrap_or_default())),
            Ok(Ok(r)) => Ok(Err(r.error.unwrap_or_else(|| "command failed".into()))),
        }
    }

    fn hostname(&self) -> Result<String, String> {
        let json = self
            .call(vec!["show".into(), "version".into()], true)?
            .map_err(|e| format!("show version: {e}"))?;
        let v: serde_json::Value =
            serde_json::from_str(&json).map_err(|e| format!("show version: {e}"))?;
        Ok(v["hostname"].as_str().unwrap_or("Router").to_owned())
    }

    /// The keywords the device accepts after `words` that begin with
    /// `partial`, from its `?` help.
    fn keywords(&self, words: &[&str], partial: &str) -> Vec<String> {
        let mut ask: Vec<String> = words.iter().map(|w| (*w).to_owned()).collect();
        ask.push(format!("{partial}?"));
        let Ok(Ok(help)) = self.call(ask, false) else {
            return Vec::new();
        };
        let partial = partial.to_ascii_lowercase();
        help.lines()
            .map(str::trim)
            // Keywords only: not `<cr>`, operand descriptions
            // (`A.B.C.D | all`, `LINE[; LINE...]`) or a `%` refusal.
            .filter(|l| {
                !l.is_empty()
                    && l.chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            })
            .filter(|l| l.starts_with(&partial))
            .map(str::to_owned)
            .collect()
    }
}

/// `configure`, `conf t`, `config terminal`: enter configuration mode.
fn is_configure_terminal(words: &[&str]) -> bool {
    let conf = |w: &str| w.len() >= 3 && "configure".starts_with(&w.to_ascii_lowercase());
    match words {
        [c] => conf(c),
        [c, t] => conf(c) && "terminal".starts_with(&t.to_ascii_lowercase()),
        _ => false,
    }
}

fn is_word(w: &str, of: &[&str]) -> bool {
    of.iter().any(|k| w.eq_ignore_ascii_case(k))
}

/// Tab completion: EXEC keywords from the device's `?` help; in
/// configuration mode the session's own words and `do` EXEC commands.
struct Completion {
    device: Rc<Device>,
    /// The configuration mode, `None` in EXEC mode.
    configuring: Rc<RefCell<Option<Mode>>>,
}

impl Completer for Completion {
    type Candidate = Pair;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        _ctx: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        let before = &line[..pos];
        let start = before
            .char_indices()
            .rev()
            .find(|(_, c)| c.is_whitespace())
            .map_or(0, |(i, c)| i + c.len_utf8());
        let partial = &before[start..];
        let mut words: Vec<&str> = before[..start].split_whitespace().collect();
        let lower = partial.to_ascii_lowercase();
        let local = |options: &[&str]| -> Vec<String> {
            options
                .iter()
                .filter(|o| o.starts_with(&lower))
                .map(|o| (*o).to_owned())
                .collect()
        };
        let configuring = self.configuring.borrow().clone();
        let found = if let Some(mode) = configuring {
            if words.first().is_some_and(|w| is_word(w, &["do"])) {
                words.remove(0);
                self.device.keywords(&words, partial)
            } else {
                // The configuration parser's own keywords for this place.
                let mut k: Vec<String> = pmip_config::Config::keywords_after(&mode, &words)
                    .into_iter()
                    .filter(|k| k.starts_with(&lower))
                    .map(str::to_owned)
                    .collect();
                if words.is_empty() {
                    k.extend(local(&["do", "end", "exit"]));
                }
                k
            }
        } else if words.len() == 1 && is_configure_terminal(&words[..1]) {
            local(&["terminal"])
        } else {
            let mut k = self.device.keywords(&words, partial);
            if words.is_empty() {
                k.extend(local(&["exit"]));
            }
            k
        };
        Ok((
            start,
            found
                .into_iter()
                .map(|k| Pair {
                    replacement: format!("{k} "),
                    display: k,
                })
                .collect(),
        ))
    }
}

impl Hinter for Completion {
    type Hint = String;
}
impl Highlighter for Completion {}
impl Validator for Completion {}
impl Helper for Completion {}

/// Ctrl-Z leaves configuration mode as in IOS (instead of suspending the
/// console): it ends the line being edited and says so.
struct CtrlZ(Arc<AtomicBool>);

impl ConditionalEventHandler for CtrlZ {
    fn handle(&self, _: &Event, _: RepeatCount, _: bool, _: &EventContext) -> Option<Cmd> {
        self.0.store(true, Ordering::Relaxed);
        Some(Cmd::Interrupt)
    }
}

/// Keeps a typed line within `MAX_LINE` bytes while it is edited: a
/// character typed (or pasted without bracketed paste, key by key) into
/// a full line is dropped and counted, so a flood costs nothing per byte
/// (the editor redraws the whole line for each key it inserts into a line
/// wider than the terminal: a 100 kB line took two minutes) and the line
/// is refused with its length at Enter. The count starts again with an
/// empty line (Ctrl-U after the refusal shows).
struct LineCap(Arc<AtomicUsize>);

impl ConditionalEventHandler for LineCap {
    fn handle(&self, evt: &Event, n: RepeatCount, _: bool, ctx: &EventContext) -> Option<Cmd> {
        let line = ctx.line();
        if line.is_empty() {
            self.0.store(0, Ordering::Relaxed);
        }
        if line.len() < MAX_LINE {
            return None;
        }
        match evt {
            Event::KeySeq(keys) => match keys.as_slice() {
                [KeyEvent(KeyCode::Char(c), Modifiers::NONE | Modifiers::SHIFT)] => {
                    self.0
                        .fetch_add(c.len_utf8() * usize::from(n.max(1)), Ordering::Relaxed);
                    Some(Cmd::Noop)
                }
                _ => None,
            },
            _ => None,
        }
    }
}

/// What one read gave.
enum Read {
    Line(String),
    /// Refused input, with the reason to show.
    Refused(String),
    CtrlZ,
    /// Ctrl-C.
    Interrupted,
    Eof,
}

/// A line's bytes as text, or why they are refused: not UTF-8, or a
/// control character the device would never take. A line that is only
/// Ctrl-Z (0x1a) is Ctrl-Z, so a script can leave configuration mode as a
/// terminal does.
fn check_line(bytes: &[u8]) -> Read {
    if bytes.len() > MAX_LINE {
        return Read::Refused(format!(
            "% Line refused: {} bytes, at most {MAX_LINE}",
            bytes.len()
        ));
    }
    let text = match std::str::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => {
            return Read::Refused(format!(
                "% Line refused: not UTF-8 text (byte 0x{:02x} at offset {})",
                bytes[e.valid_up_to()],
                e.valid_up_to()
            ));
        }
    };
    if text == "\u{1a}" {
        return Read::CtrlZ;
    }
    if let Some((at, c)) = text
        .char_indices()
        .find(|(_, c)| c.is_control() && *c != '\t')
    {
        return Read::Refused(format!(
            "% Line refused: control character U+{:04X} at offset {at}",
            u32::from(c)
        ));
    }
    Read::Line(text.to_owned())
}

/// Reads one line from a pipe or file without ever holding more than
/// `MAX_LINE` bytes of it: the rest of an over-long line is read and
/// dropped, and the line refused with its length.
fn read_plain(r: &mut impl BufRead) -> io::Result<Read> {
    let mut line = Vec::new();
    let mut total = 0usize;
    let mut ended = false;
    loop {
        let avail = match r.fill_buf() {
            Ok(a) => a,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if avail.is_empty() {
            break;
        }
        let (part, used) = match avail.iter().position(|b| *b == b'\n') {
            Some(i) => (&avail[..i], i + 1),
            None => (avail, avail.len()),
        };
        // Room for a CR before the newline and one byte more than allowed,
        // so an over-long line is still known to be one.
        let room = (MAX_LINE + 2).saturating_sub(line.len());
        line.extend_from_slice(&part[..part.len().min(room)]);
        total += part.len();
        ended = used > part.len();
        r.consume(used);
        if ended {
            break;
        }
    }
    if total == 0 && !ended {
        return Ok(Read::Eof);
    }
    if line.last() == Some(&b'\r') {
        line.pop();
        total -= 1;
    }
    if total > MAX_LINE {
        return Ok(Read::Refused(format!(
            "% Line refused: {total} bytes, at most {MAX_LINE}"
        )));
    }
    Ok(check_line(&line))
}

enum Input {
    Editor {
        editor: Box<Editor<Completion, DefaultHistory>>,
        ctrl_z: Arc<AtomicBool>,
        /// Bytes typed beyond `MAX_LINE` and dropped (`LineCap`).
        dropped: Arc<AtomicUsize>,
    },
    Plain(io::StdinLock<'static>),
}

impl Input {
    fn read(&mut self, prompt: &str, initial: &str, out: &mut impl Write) -> io::Result<Read> {
        match self {
            Input::Editor {
                editor,
                ctrl_z,
                dropped,
            } => {
                ctrl_z.store(false, Ordering::Relaxed);
                dropped.store(0, Ordering::Relaxed);
                match editor.readline_with_initial(prompt, (initial, "")) {
                    Ok(line) => {
                        let over = dropped.swap(0, Ordering::Relaxed);
                        if over > 0 {
                            return Ok(Read::Refused(format!(
                                "% Line refused: {} bytes, at most {MAX_LINE}",
                                line.len() + over
                            )));
                        }
                        let read = check_line(line.as_bytes());
                        if let Read::Line(l) = &read
                            && !l.trim().is_empty()
                        {
                            let _ = editor.add_history_entry(l.as_str());
                        }
                        Ok(read)
                    }
                    Err(ReadlineError::Interrupted) if ctrl_z.load(Ordering::Relaxed) => {
                        Ok(Read::CtrlZ)
                    }
                    Err(ReadlineError::Interrupted) => Ok(Read::Interrupted),
                    Err(ReadlineError::Eof) => Ok(Read::Eof),
                    Err(ReadlineError::Io(e)) if e.kind() == io::ErrorKind::InvalidData => {
                        Ok(Read::Refused("% Line refused: not UTF-8 text".to_owned()))
                    }
                    Err(ReadlineError::Io(e)) => Err(e),
                    Err(e) => Err(io::Error::other(e.to_string())),
                }
            }
            Input::Plain(stdin) => {
                let read = read_plain(stdin)?;
                // The input is not on the screen: echo it after the prompt
                // so the output is a readable transcript.
                match &read {
                    Read::Line(l) => writeln!(out, "{prompt}{l}")?,
                    Read::CtrlZ => writeln!(out, "{prompt}^Z")?,
                    Read::Refused(_) => writeln!(out, "{prompt}")?,
                    Read::Interrupted | Read::Eof => {}
                }
                Ok(read)
            }
        }
    }
}

/// The lines that put a fresh `configure` into `mode`.
fn mode_lines(mode: &Mode) -> Vec<String> {
    match mode {
        Mode::Global => Vec::new(),
        Mode::Interface(i) => vec![format!("interface {i}")],
        Mode::Ssid { interface, ssid } => {
            vec![format!("interface {interface}"), format!("ssid {ssid}")]
        }
        Mode::RouterMobile => vec!["router mobile".to_owned()],
    }
}

/// The mode after `line` was accepted in `mode`, worked out as the
/// configuration parser moves (a global command typed in an interface
/// leaves it, as in IOS).
fn next_mode(mode: &Mode, line: &str) -> Mode {
    let mut scratch = pmip_config::Config::default();
    let mut m = Mode::Global;
    for l in mode_lines(mode) {
        let _ = scratch.apply_line(&mut m, &l);
    }
    match scratch.apply_line(&mut m, line) {
        Ok(()) => m,
        // Accepted by the device but not by an empty configuration (it
        // names something the device has): the mode stays.
        Err(_) => mode.clone(),
    }
}

/// The device numbers the lines of one `configure`; the console sent the
/// mode's lines first, so the number is not the operator's: the refusal
/// is shown IOS style without it.
fn typed_line_refusal(e: &str) -> String {
    let rest = e
        .strip_prefix("line ")
        .and_then(|r| r.split_once(": "))
        .filter(|(n, _)| n.chars().all(|c| c.is_ascii_digit()))
        .map_or(e, |(_, r)| r);
    if rest.starts_with('%') {
        rest.to_owned()
    } else {
        format!("% {rest}")
    }
}

const CONFIG_HELP: &str = "  end           leave configuration mode (also Ctrl-Z)
  exit          leave this mode; from the top, configuration mode
  do COMMAND    an EXEC command (do show running-config)
  LINE          a configuration line as in the device's file (interface X, ip mobile ...)
";

/// `?` in configuration mode: at the start, the session's own words and
/// the configuration's first keywords; after words, the keywords that may
/// follow them (`ip mobile ?`), or complete the last one (`ip mo?`), as
/// the configuration parser takes them.
fn config_help(mode: &Mode, line: &str) -> String {
    let typed = line.strip_suffix('?').unwrap_or(line);
    let mut words: Vec<&str> = typed.split_whitespace().collect();
    let partial = if typed.ends_with(char::is_whitespace) || typed.is_empty() {
        ""
    } else {
        words.pop().unwrap_or("")
    };
    let lower = partial.to_ascii_lowercase();
    let keywords: Vec<&str> = pmip_config::Config::keywords_after(mode, &words)
        .into_iter()
        .filter(|k| k.starts_with(&lower))
        .collect();
    let mut out = String::new();
    if words.is_empty() && partial.is_empty() {
        out.push_str(CONFIG_HELP);
    }
    for k in &keywords {
        out.push_str(&format!("  {k}\n"));
    }
    if keywords.is_empty() && !(words.is_empty() && partial.is_empty()) {
        out.push_str("  <value>  (a name, an address or a number), or <cr>\n");
    }
    out
}

/// The session: `Ok(true)` if every command went through.
struct Session {
    device: Rc<Device>,
    host: String,
    /// `None` in EXEC mode.
    mode: Option<Mode>,
    configuring: Rc<RefCell<Option<Mode>>>,
    all_ok: bool,
}

impl Session {
    fn prompt(&self) -> String {
        match &self.mode {
            None => format!("{}#", self.host),
            Some(m) => m.prompt(&self.host),
        }
    }

    /// Prints a command's answer; true when it was carried out.
    fn show(&mut self, out: &mut impl Write, answer: Answer) -> io::Result<bool> {
        let (text, ok) = match answer {
            Ok(Ok(o)) => (o, true),
            Ok(Err(refusal)) => (refusal, false),
            Err(unreachable) => (format!("% {unreachable}"), false),
        };
        if !text.is_empty() {
            out.write_all(text.as_bytes())?;
            if !text.ends_with('\n') {
                out.write_all(b"\n")?;
            }
        }
        self.all_ok &= ok;
        Ok(ok)
    }

    /// An EXEC line; returns the text to offer again after `?` help, and
    /// whether the session ends.
    fn exec_line(&mut self, out: &mut impl Write, line: &str) -> io::Result<(String, bool)> {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            [] => return Ok((String::new(), false)),
            [w] if is_word(w, &["exit", "quit", "logout"]) => return Ok((String::new(), true)),
            w if is_configure_terminal(w) => {
                writeln!(
                    out,
                    "Enter configuration commands, one per line.  End with CNTL/Z."
                )?;
                self.mode = Some(Mode::Global);
                return Ok((String::new(), false));
            }
            _ => {}
        }
        let help = line.trim_end().ends_with('?');
        let answer = self
            .device
            .call(words.iter().map(|w| (*w).to_owned()).collect(), false);
        self.show(out, answer)?;
        // IOS shows the line again after `?`, ready to go on.
        let again = if help {
            line.trim_end().trim_end_matches('?').to_owned()
        } else {
            String::new()
        };
        Ok((again, false))
    }

    /// A line in configuration mode.
    fn config_line(&mut self, out: &mut impl Write, line: &str) -> io::Result<String> {
        let Some(mode) = self.mode.clone() else {
            return Ok(String::new());
        };
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            [] => {}
            [w] if is_word(w, &["end"]) => self.mode = None,
            [w] if is_word(w, &["exit"]) => {
                self.mode = (mode != Mode::Global).then(|| mode.parent());
            }
            [w, rest @ ..] if is_word(w, &["do"]) && !rest.is_empty() => {
                // `do exit` is not a way out of the session.
                let (again, _) = self.exec_line(out, &rest.join(" "))?;
                if !again.is_empty() {
                    return Ok(format!("do {again}"));
                }
            }
            _ if line.trim_end().ends_with('?') => {
                out.write_all(config_help(&mode, line.trim_end()).as_bytes())?
            }
            _ => {
                let mut lines = mode_lines(&mode);
                lines.push(line.trim().to_owned());
                let answer = self
                    .device
                    .call(vec!["configure".into(), lines.join("; ")], false)
                    .map(|r| r.map_err(|e| typed_line_refusal(&e)));
                if self.show(out, answer)? {
                    self.mode = Some(next_mode(&mode, line.trim()));
                    // `hostname` changes the prompt.
                    if let Ok(h) = self.device.hostname() {
                        self.host = h;
                    }
                }
            }
        }
        Ok(String::new())
    }
}

/// Runs the session on the device at `control` until `exit` or end of
/// input. Exit status 1 if the device cannot be reached at the start, or
/// if any command was refused (so a script piped in learns of it).
pub fn run(control: PathBuf) -> ExitCode {
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("pmip: {e}");
            return ExitCode::FAILURE;
        }
    };
    let device = Rc::new(Device { path: control, rt });
    let host = match device.hostname() {
        Ok(h) => h,
        Err(e) => {
            eprintln!("pmip: {e}");
            return ExitCode::FAILURE;
        }
    };
    let configuring = Rc::new(RefCell::new(None));
    let mut input = if io::stdin().is_terminal() {
        let config = rustyline::Config::builder()
            .completion_type(CompletionType::List)
            .auto_add_history(false)
            .build();
        let mut editor = match Editor::<Completion, DefaultHistory>::with_config(config) {
            Ok(e) => e,
            Err(e) => {
                eprintln!("pmip: console: {e}");
                return ExitCode::FAILURE;
            }
        };
        editor.set_helper(Some(Completion {
            device: device.clone(),
            configuring: configuring.clone(),
        }));
        let ctrl_z = Arc::new(AtomicBool::new(false));
        editor.bind_sequence(
            KeyEvent::ctrl('Z'),
            EventHandler::Conditional(Box::new(CtrlZ(ctrl_z.clone()))),
        );
        let dropped = Arc::new(AtomicUsize::new(0));
        editor.bind_sequence(
            Event::Any,
            EventHandler::Conditional(Box::new(LineCap(dropped.clone()))),
        );
        Input::Editor {
            editor: Box::new(editor),
            ctrl_z,
            dropped,
        }
    } else {
        Input::Plain(io::stdin().lock())
    };
    let mut session = Session {
        device,
        host,
        mode: None,
        configuring,
        all_ok: true,
    };
    let mut out = io::stdout().lock();
    match drive(&mut session, &mut input, &mut out) {
        Ok(()) => {}
        // A reader that went away (`| head`) ends the session quietly.
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => return ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("pmip: console: {e}");
            return ExitCode::FAILURE;
        }
    }
    if session.all_ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn drive(session: &mut Session, input: &mut Input, out: &mut impl Write) -> io::Result<()> {
    let mut initial = String::new();
    loop {
        *session.configuring.borrow_mut() = session.mode.clone();
        let prompt = session.prompt();
        out.flush()?;
        let read = input.read(&prompt, &initial, out)?;
        initial.clear();
        match read {
            Read::Eof => {
                out.flush()?;
                return Ok(());
            }
            Read::Interrupted | Read::CtrlZ => {
                // Both leave configuration mode, as in IOS; in EXEC mode
                // Ctrl-C just drops the line.
                session.mode = None;
            }
            Read::Refused(reason) => {
                writeln!(out, "{reason}")?;
                session.all_ok = false;
            }
            Read::Line(line) => {
                if session.mode.is_some() {
                    initial = session.config_line(out, &line)?;
                } else {
                    let (again, end) = session.exec_line(out, &line)?;
                    if end {
                        out.flush()?;
                        return Ok(());
                    }
                    initial = again;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain(input: &[u8]) -> Vec<String> {
        let mut r = io::BufReader::with_capacity(7, input);
        let mut got = Vec::new();
        loop {
            match read_plain(&mut r).unwrap() {
                Read::Eof => return got,
                Read::Line(l) => got.push(format!("line {l}")),
                Read::Refused(why) => got.push(why),
                Read::CtrlZ => got.push("ctrl-z".into()),
                Read::Interrupted => got.push("interrupted".into()),
            }
        }
    }

    #[test]
    fn plain_lines_are_bounded_and_checked() {
        let mut input = b"show version\r\n".to_vec();
        input.extend(vec![b'x'; 10_000]);
        input.extend(b"\nconf t\n\xff\xfe\n\x1a\nbell\x07\n");
        input.extend(vec![b'y'; MAX_LINE]);
        input.extend(b"\nlast without newline");
        let got = plain(&input);
        assert_eq!(got[0], "line show version");
        assert_eq!(got[1], "% Line refused: 10000 bytes, at most 4096");
        assert_eq!(got[2], "line conf t");
        assert_eq!(
            got[3],
            "% Line refused: not UTF-8 text (byte 0xff at offset 0)"
        );
        assert_eq!(got[4], "ctrl-z");
        assert_eq!(
            got[5],
            "% Line refused: control character U+0007 at offset 4"
        );
        assert_eq!(got[6], format!("line {}", "y".repeat(MAX_LINE)));
        assert_eq!(got[7], "line last without newline");
        assert_eq!(got.len(), 8);
    }

    #[test]
    fn configuration_help_lists_what_may_follow() {
        let g = Mode::Global;
        let h = config_help(&g, "ip mobile ?");
        assert!(
            h.contains("  home-agent\n") && h.contains("  host\n"),
            "{h}"
        );
        let h = config_help(&g, "ip mo?");
        assert!(h.contains("  mobile\n") && !h.contains("  route\n"), "{h}");
        let h = config_help(&g, "?");
        assert!(
            h.contains("do COMMAND") && h.contains("  interface\n"),
            "{h}"
        );
        let h = config_help(&g, "hostname ?");
        assert!(h.contains("<value>"), "{h}");
    }

    #[test]
    fn configure_terminal_and_modes() {
        for yes in [
            "conf t",
            "configure terminal",
            "CONFIG T",
            "conf",
            "con term",
        ] {
            let w: Vec<&str> = yes.split_whitespace().collect();
            assert!(is_configure_terminal(&w), "{yes}");
        }
        for no in ["co t", "configure hostname x", "conf x"] {
            let w: Vec<&str> = no.split_whitespace().collect();
            assert!(!is_configure_terminal(&w), "{no}");
        }
        let m = next_mode(&Mode::Global, "interface FastEthernet0");
        assert_eq!(m, Mode::Interface("FastEthernet0".into()));
        assert_eq!(next_mode(&m, "ip irdp"), m, "an interface line stays");
        assert_eq!(
            next_mode(&m, "hostname r9"),
            Mode::Global,
            "a global line leaves the interface"
        );
        assert_eq!(
            next_mode(&Mode::Global, "router mobile"),
            Mode::RouterMobile
        );
        assert_eq!(mode_lines(&m), ["interface FastEthernet0"]);
        assert_eq!(
            typed_line_refusal("line 2: \"ip irdp holdtime 30\" — too low"),
            "% \"ip irdp holdtime 30\" — too low"
        );
        assert_eq!(typed_line_refusal("% Invalid"), "% Invalid");
    }
}
