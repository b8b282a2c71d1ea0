//! Sockets as programs see them (userland-bins/sockets.c): AF_UNIX
//! socketpair, datagrams, sequenced packets, names, listen and accept,
//! errors, non-blocking calls, shutdown, SIGPIPE, passing descriptors,
//! credentials and poll; TCP and UDP over IPv4 and IPv6 on loopback.
//! Every subtest runs natively and under vxos, and all that differ are
//! reported together.

use vxos_tests::*;

#[test]
fn sockets_subtests_match_native() {
    let b = bins();
    let prog = b.join("sockets");
    let list = native(&prog, &["LIST"], &b, None);
    let names: Vec<String> = String::from_utf8(list.stdout).unwrap().lines().map(str::to_owned).collect();
    assert!(names.len() >= 10, "{names:?}");
    let mut bad = Vec::new();
    for name in &names {
        let n = native(&prog, &[name], &b, None);
        let v = guest(&prog, &[name], &b, None);
        if let Some(d) = differences("native", &n, "vxos", &v) {
            bad.push(format!("===== sockets {name}\n{d}"));
        }
    }
    assert!(bad.is_empty(), "{} of {} subtests differ:\n{}", bad.len(), names.len(), bad.join("\n"));
}

/// The guest's network is loopback only, as a network namespace with
/// only `lo` up: AF_INET and AF_INET6 sockets exist, every address
/// beyond loopback is unreachable, AF_NETLINK and AF_PACKET are not
/// there, and glibc's nscd probe finds no socket. Natively the host's
/// network would answer, so this is checked against what Linux says in
/// such a namespace.
#[test]
fn loopback_only_network() {
    let b = bins();
    let v = guest(&b.join("sockets"), &["inet"], &b, None);
    assert_eq!(
        String::from_utf8_lossy(&v.stdout),
        "socket(AF_INET, SOCK_STREAM): 0\n\
         connect to 8.8.8.8:53: -1 ENETUNREACH\n\
         sendto 8.8.8.8:53: -1 ENETUNREACH\n\
         UDP connect to 8.8.8.8:53: -1 ENETUNREACH\n\
         connect to [2001:db8::1]:80: -1 ENETUNREACH\n\
         socket(AF_NETLINK, SOCK_RAW): -1 EAFNOSUPPORT\n\
         socket(AF_PACKET, SOCK_RAW): -1 EAFNOSUPPORT\n\
         connect to nscd: -1 ENOENT\n"
    );
}

/// With one vCPU every wait is a real switch to another task: the
/// subtests that pass data between processes still match.
#[test]
fn cross_process_subtests_match_native_on_one_vcpu() {
    let b = bins();
    let prog = b.join("sockets");
    let mut bad = Vec::new();
    for name in ["pair_stream", "path", "rights", "creds", "poll", "epipe", "tcp4", "tcp6", "inet_poll"] {
        let n = native(&prog, &[name], &b, None);
        let v = guest_opts(&["--cpus", "1"], &prog, &[name], &b, None);
        if let Some(d) = differences("native", &n, "vxos --cpus 1", &v) {
            bad.push(format!("===== sockets {name}\n{d}"));
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}
