//! `pmip console` against a real home agent daemon in a namespace, its
//! input piped in as a script would: the device's prompt, an abbreviated
//! `show`, `?` help, `configure terminal` with an interface sub-mode,
//! `exit`, `do`, Ctrl-Z and `end`, the change in `show running-config`
//! (and at the device itself), and input the console refuses (too long,
//! not UTF-8, control characters).

use pmip_netns::{Netns, unique_name};
use pmip_wire::registration::{ReplyCode, RequestFlags};
use std::io::Write;
use std::net::Ipv4Addr;
use std::path::Path;
use std::process::{Command, Output, Stdio};

mod common;

const HA: Ipv4Addr = Ipv4Addr::new(10, 1, 0, 1);
const HOME: Ipv4Addr = Ipv4Addr::new(10, 1, 0, 50);
const COA: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);

const CONFIG: &str = "hostname ha1
interface FastEthernet0
 ip address 10.1.0.1 255.255.255.0
interface eth1
 ip address 192.0.2.1 255.255.255.0
router mobile
ip mobile home-agent lifetime 600
ip mobile host 10.1.0.10 10.1.0.99 interface FastEthernet0
ip mobile secure host 10.1.0.10 10.1.0.99 spi 100 key hex 00112233445566778899aabbccddeeff algorithm hmac-md5
";

/// `pmip console --control SOCK` with `input` on a pipe.
fn console(control: &Path, input: &[u8]) -> Output {
    let mut child = Command::new(common::PMIP)
        .arg("console")
        .arg("--control")
        .arg(control)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    // Written from a thread: the console answers while it reads.
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    out
}

#[test]
fn console_session_through_a_pipe() {
    let mut ha = Netns::new(&unique_name("pmipt-co")).unwrap();
    let mn = Netns::new(&unique_name("pmipt-cm")).unwrap();
    let cn = Netns::new(&unique_name("pmipt-cc")).unwrap();
    ha.veth_to("FastEthernet0", &cn, "c0").unwrap();
    ha.veth_to("eth1", &mn, "m0").unwrap();
    mn.addr("m0", "192.0.2.2/24").unwrap();
    mn.ip(&["route", "add", "10.1.0.0/24", "via", "192.0.2.1"])
        .unwrap();
    let (control, _) = common::start(&mut ha, "ha1", CONFIG);

    // A binding for `show ip mobile binding` to show.
    let code = mn
        .run(|| {
            let flags = RequestFlags {
                decapsulation_by_mn: true,
                ..Default::default()
            };
            common::ask(COA, HA, &common::request(HOME, HA, COA, 300, flags))
        })
        .unwrap();
    assert_eq!(code, ReplyCode::Accepted);

    let mut script = b"sh ip mob bind
show ip ?
conf t
hostname ha9
interface FastEthernet0
 ip irdp
 ip irdp holdtime 30
 ip irdp holdtime 1800
do show version
exit
ip mobile home-agent lifetime 300
end
show running-config
sh ip mob florp
"
    .to_vec();
    script.extend(vec![b'x'; 5000]);
    script.extend(b"\nshow \xff\xfe version\nshow\x07 version\nconfigure terminal\nrouter mobile\n\x1a\nsh ver\nexit\nshow version\n");
    let out = console(&control, &script);
    let transcript = String::from_utf8_lossy(&out.stdout).into_owned();
    println!("{transcript}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.is_empty(), "{stderr}");

    // The session, in order, as a router's console shows it.
    let expected = [
        "ha1#sh ip mob bind\n",
        "Mobility Binding List:\nTotal 1\n10.1.0.50:\n",
        "Care-of Addr 192.0.2.2",
        "ha1#show ip ?\n",
        "  mobile\n",
        "  proxy-mobile\n",
        "ha1#conf t\nEnter configuration commands, one per line.  End with CNTL/Z.\n",
        "ha1(config)#hostname ha9\n",
        "ha9(config)#interface FastEthernet0\n",
        "ha9(config-if)# ip irdp\n",
        "ha9(config-if)# ip irdp holdtime 30\n% \"ip irdp holdtime 30\"",
        "below maxadvertinterval",
        "ha9(config-if)# ip irdp holdtime 1800\n",
        "ha9(config-if)#do show version\npmip ",
        "ha9 uptime is",
        "ha9(config-if)#exit\n",
        "ha9(config)#ip mobile home-agent lifetime 300\n",
        "ha9(config)#end\n",
        "ha9#show running-config\n",
        "hostname ha9\n",
        "interface FastEthernet0\n",
        " ip irdp\n",
        " ip irdp holdtime 1800\n",
        "ip mobile home-agent lifetime 300\n",
        "ha9#sh ip mob florp\n% Invalid input detected",
        "ha9#\n% Line refused: 5000 bytes, at most 4096\n",
        "ha9#\n% Line refused: not UTF-8 text (byte 0xff at offset 5)\n",
        "ha9#\n% Line refused: control character U+0007 at offset 4\n",
        "ha9#configure terminal\n",
        "ha9(config)#router mobile\n",
        "ha9(config-router)#^Z\n",
        "ha9#sh ver\npmip ",
        "ha9#exit\n",
    ];
    let mut at = 0;
    for e in expected {
        match transcript[at..].find(e) {
            Some(i) => at += i + e.len(),
            None => panic!("expected next:\n{e}\nafter offset {at} of:\n{transcript}"),
        }
    }
    // Nothing is read after `exit`.
    assert!(transcript.ends_with("ha9#exit\n"), "{transcript}");
    // Something was refused: a script learns it from the exit status.
    assert_eq!(out.status.code(), Some(1));

    // The device itself has the change.
    let running = common::exec_ok(&control, &["show", "running-config"]);
    assert!(running.contains("hostname ha9"), "{running}");
    assert!(running.contains(" ip irdp holdtime 1800"), "{running}");

    // A clean script exits 0; end of input ends the session.
    let out = console(&control, b"show version\n");
    let transcript = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{transcript}");
    assert!(
        transcript.starts_with("ha9#show version\npmip "),
        "{transcript}"
    );

    // No device: one line on stderr, status 1.
    let gone = common::temp("no-such-device.sock");
    let out = console(&gone, b"show version\n");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with("pmip: ") && stderr.contains("no-such-device.sock"),
        "{stderr}"
    );
    assert!(out.stdout.is_empty());
}

/// `pmip console` on a terminal: a pseudo-terminal stands in for the
/// operator's, so the line editor (rustyline) runs as it does for a
/// person. Tab completes a keyword from the device's `?` help, the up
/// arrow brings the last command back, and input of any length or
/// encoding is refused with its reason: a 200 000-byte line typed key by
/// key (every key dropped past 4096 bytes, so it costs no redraw) and
/// bytes that are not UTF-8. Printed: how long the long line took.
#[test]
fn console_on_a_terminal() {
    use std::io::Read;
    use std::os::fd::{FromRawFd, OwnedFd};
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, Instant};

    let mut ha = Netns::new(&unique_name("pmipt-ct")).unwrap();
    let (control, _) = common::start(
        &mut ha,
        "tty1",
        "hostname tty1\nrouter mobile\nip mobile home-agent\n",
    );

    let (mut master, mut slave) = (0, 0);
    let size = libc::winsize {
        ws_row: 24,
        ws_col: 80,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: openpty writes two descriptors it opened; the pointers are
    // to locals.
    let r = unsafe {
        libc::openpty(
            &mut master,
            &mut slave,
            std::ptr::null_mut(),
            std::ptr::null(),
            &size,
        )
    };
    assert_eq!(r, 0, "openpty: {}", std::io::Error::last_os_error());
    // SAFETY: both descriptors were just opened and are owned here only.
    let (master, slave) = unsafe { (OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) };
    let child = Command::new(common::PMIP)
        .arg("console")
        .arg("--control")
        .arg(&control)
        .stdin(Stdio::from(slave.try_clone().unwrap()))
        .stdout(Stdio::from(slave.try_clone().unwrap()))
        .stderr(Stdio::from(slave))
        .spawn()
        .unwrap();
    /// The console, killed when the test ends however it ends.
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let pid = child.id();
    let mut child = Kill(child);

    // Everything the console writes, drained all along so it never
    // blocks on a full terminal.
    let screen = Arc::new(Mutex::new(Vec::<u8>::new()));
    let mut reader = std::fs::File::from(master.try_clone().unwrap());
    let seen = screen.clone();
    std::thread::spawn(move || {
        let mut b = [0u8; 65536];
        while let Ok(n) = reader.read(&mut b) {
            if n == 0 {
                break;
            }
            seen.lock().unwrap().extend_from_slice(&b[..n]);
        }
    });
    let mut keys = std::fs::File::from(master);
    let mut from = 0;
    // Waits for `want` after what was looked at so far; the text up to it.
    let mut expect = |want: &str, within: Duration| -> String {
        let t = Instant::now();
        loop {
            let text = String::from_utf8_lossy(&screen.lock().unwrap()[from..]).into_owned();
            if let Some(i) = text.find(want) {
                from += text[..i + want.len()].len();
                return text[..i + want.len()].to_owned();
            }
            assert!(
                t.elapsed() < within,
                "console {pid}: no {want:?} within {within:?}; the screen after the last match:\n{}",
                text.chars()
                    .rev()
                    .take(2000)
                    .collect::<String>()
                    .chars()
                    .rev()
                    .collect::<String>()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    };
    let second = Duration::from_secs(10);
    // Keys go in only at a prompt: between two lines the terminal is not
    // in the editor's raw mode.
    expect("tty1#", second);

    keys.write_all(b"sh ver\r").unwrap();
    expect("tty1 uptime is", second);
    expect("tty1#", second);

    // Tab: `bi` becomes `binding ` from the device's own help.
    keys.write_all(b"sh ip mob bi\t").unwrap();
    expect("sh ip mob binding ", second);
    keys.write_all(b"\r").unwrap();
    expect("Mobility Binding List:", second);
    expect("tty1#", second);

    // Up arrow: the last command again.
    keys.write_all(b"\x1b[A").unwrap();
    expect("sh ip mob binding", second);
    keys.write_all(b"\r").unwrap();
    expect("Mobility Binding List:", second);
    expect("tty1#", second);

    // A line far past the limit, typed.
    let t = Instant::now();
    let long = vec![b'y'; 200_000];
    let writer = {
        let mut keys = keys.try_clone().unwrap();
        std::thread::spawn(move || {
            for chunk in long.chunks(4096) {
                keys.write_all(chunk).unwrap();
            }
            keys.write_all(b"\r").unwrap();
        })
    };
    expect(
        "% Line refused: 200000 bytes, at most 4096",
        Duration::from_secs(60),
    );
    writer.join().unwrap();
    println!("a 200000-byte typed line refused after {:?}", t.elapsed());
    expect("tty1#", second);

    // Not UTF-8.
    keys.write_all(b"show \xff\xfe version\r").unwrap();
    expect("% Line refused: not UTF-8 text", second);
    expect("tty1#", second);

    // The session goes on as before.
    keys.write_all(b"show version\r").unwrap();
    expect("tty1 uptime is", second);
    expect("tty1#", second);
    keys.write_all(b"exit\r").unwrap();
    let t = Instant::now();
    let status = loop {
        if let Some(s) = child.0.try_wait().unwrap() {
            break s;
        }
        assert!(t.elapsed() < second, "console still running after exit");
        std::thread::sleep(Duration::from_millis(20));
    };
    // Lines were refused: the exit status says so.
    assert_eq!(status.code(), Some(1));
}
