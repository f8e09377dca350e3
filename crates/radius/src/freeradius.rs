//! A stock FreeRADIUS for pmip's lab, benchmarks and tests: the whole
//! configuration it needs, written into one directory (nothing of the
//! packaged /etc/freeradius is used but the dictionaries), so a server
//! runs in a network namespace of its own with `freeradius -f -d DIR`.

use core::net::SocketAddrV4;
use std::path::Path;

/// Where Debian's package puts the server.
pub const BINARY: &str = "/usr/sbin/freeradius";

/// What the server prints once it listens.
pub const READY: &str = "Ready to process requests";

/// A complete minimal FreeRADIUS 3 configuration in `dir`: listening on
/// `listen`, answering the clients in `clients` (a CIDR) that know
/// `secret`, users from `dir/users` (`files` module), PAP.
pub fn radiusd_conf(dir: &Path, listen: SocketAddrV4, clients: &str, secret: &str) -> String {
    let d = dir.display();
    format!(
        r#"# FreeRADIUS for pmip (lab, benchmarks, tests): paths here, log to
# stdout, the packaged dictionaries, users in `users`.
prefix = /usr
exec_prefix = /usr
sysconfdir = /etc
localstatedir = /var
sbindir = /usr/sbin
libdir = /usr/lib/freeradius
raddbdir = {d}
confdir = {d}
modconfdir = {d}
logdir = {d}
run_dir = {d}
db_dir = {d}
pidfile = {d}/radiusd.pid
dictdir = /usr/share/freeradius
name = freeradius
max_request_time = 30
cleanup_delay = 0
max_requests = 16384
hostname_lookups = no
log {{
    destination = stdout
    auth = yes
}}
security {{
    allow_core_dumps = no
    max_attributes = 200
    reject_delay = 0
    status_server = no
}}
thread pool {{
    start_servers = 2
    max_servers = 4
    min_spare_servers = 1
    max_spare_servers = 4
    max_requests_per_server = 0
}}
client pmip {{
    ipaddr = {clients}
    secret = {secret}
    shortname = pmip
}}
modules {{
    files {{
        filename = {d}/users
    }}
    pap {{
    }}
}}
server default {{
    listen {{
        type = auth
        ipaddr = {addr}
        port = {port}
    }}
    authorize {{
        files
        pap
    }}
    authenticate {{
        Auth-Type PAP {{
            pap
        }}
    }}
}}
"#,
        secret = secret,
        clients = clients,
        addr = listen.ip(),
        port = listen.port(),
    )
}
