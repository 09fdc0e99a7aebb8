//! The Community ID flow hash, version 1 (<https://github.com/corelight/community-id-spec>),
//! as Zeek, Suricata and Arkime write it, so that a flow of bttrace's tables joins with their
//! logs: `1:` and the base64 of the SHA-1 of the seed (2 bytes), the two addresses and the
//! protocol, a zero byte and the two ports, the endpoint with the smaller address (then port)
//! first. SHA-1 and base64 come from the `sha1_smol` and `base64` crates.

use std::net::{IpAddr, SocketAddr};

use base64::Engine;

/// IANA protocol number of TCP.
const TCP: u8 = 6;

/// The Community ID v1 of a TCP connection between `a` and `b` (either order), seed 0.
pub fn tcp(a: SocketAddr, b: SocketAddr) -> String {
    with_seed(a, b, TCP, 0)
}

/// The Community ID v1 of a flow with ports between `a` and `b`, with `proto` and `seed`.
pub fn with_seed(a: SocketAddr, b: SocketAddr, proto: u8, seed: u16) -> String {
    let key = |s: SocketAddr| (s.ip(), s.port());
    let (lo, hi) = if key(a) <= key(b) { (a, b) } else { (b, a) };
    let mut h = sha1_smol::Sha1::new();
    h.update(&seed.to_be_bytes());
    for ip in [lo.ip(), hi.ip()] {
        match ip {
            IpAddr::V4(v) => h.update(&v.octets()),
            IpAddr::V6(v) => h.update(&v.octets()),
        }
    }
    h.update(&[proto, 0]);
    h.update(&lo.port().to_be_bytes());
    h.update(&hi.port().to_be_bytes());
    let digest = h.digest().bytes();
    format!(
        "1:{}",
        base64::engine::general_purpose::STANDARD.encode(digest)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sa(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    /// The spec's published examples (its README and baseline).
    #[test]
    fn the_specs_examples() {
        let a = sa("128.232.110.120:34855");
        let b = sa("66.35.250.204:80");
        assert_eq!(tcp(a, b), "1:LQU9qZlK+B5F3KDmev6m5PMibrg=");
        assert_eq!(tcp(b, a), "1:LQU9qZlK+B5F3KDmev6m5PMibrg=");
        let udp = with_seed(sa("192.168.1.52:54585"), sa("8.8.8.8:53"), 17, 0);
        assert_eq!(udp, "1:d/FP5EW3wiY1vCndhwleRRKHowQ=");
        let v6 = tcp(
            sa("[2001:470:e5bf:dead:4957:2174:e82c:4887]:63943"),
            sa("[2607:f8b0:400c:c03::1a]:25"),
        );
        assert_eq!(v6, "1:/qFaeAR+gFe1KYjMzVDsMv+wgU4=");
        // The same addresses with the ports swapped are another flow.
        assert_ne!(
            tcp(sa("128.232.110.120:80"), sa("66.35.250.204:34855")),
            tcp(a, b)
        );
    }
}
