//! `bttrace capture` as users run it. Without the `live` feature: the one line that says how to
//! get it. With it: clear errors, and (as root, with network namespaces: `.ci/run` runs it
//! with `--ignored`) real traffic on a veth pair, a BitTorrent-like transfer and a forged
//! RST, where the live report and `bttrace analyze` on the written file must agree.

use std::process::{Command, Output};

fn bttrace(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_bttrace"))
        .args(args)
        .output()
        .expect("run bttrace")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[cfg(not(feature = "live"))]
#[test]
fn capture_without_the_feature_says_how_to_build_it() {
    let o = bttrace(&["capture", "-i", "eth0", "-w", "x.pcap", "--duration", "5"]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with("bttrace: this bttrace was built without live capture; "));
    assert!(err.contains("apt-get install libpcap-dev"), "{err}");
    assert!(
        err.contains("cargo build --release --features live"),
        "{err}"
    );
    assert!(o.stdout.is_empty());
    assert!(!std::path::Path::new("x.pcap").exists());
}

#[cfg(feature = "live")]
mod live {
    use std::io::{BufRead, BufReader, Read};
    use std::path::{Path, PathBuf};
    use std::process::{Child, Command, Stdio};
    use std::sync::mpsc;
    use std::thread;
    use std::time::{Duration, Instant};

    use serde_json::Value;

    use super::{bttrace, stderr};

    const BIN: &str = env!("CARGO_BIN_EXE_bttrace");
    const BTPEER: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/btpeer.py");
    const CLIENT: &str = "198.51.100.1";
    const SERVER: &str = "198.51.100.2";

    #[test]
    fn capture_on_a_missing_interface_names_the_ones_there_are() {
        let o = bttrace(&["capture", "-i", "no-such-iface0", "--duration", "1"]);
        assert_eq!(o.status.code(), Some(2));
        let err = stderr(&o);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(
            err.starts_with("bttrace: no such interface: no-such-iface0 (interfaces: "),
            "{err}"
        );
        assert!(err.contains("lo"), "{err}");
        assert!(o.stdout.is_empty());
    }

    #[test]
    fn capture_refuses_to_overwrite_a_file_before_opening_the_interface() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("old.pcap");
        std::fs::write(&out, b"keep me").unwrap();
        let o = bttrace(&["capture", "-i", "lo", "-w", out.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(2));
        let err = stderr(&o);
        assert!(err.contains("exists; use --force to overwrite it"), "{err}");
        assert_eq!(std::fs::read(&out).unwrap(), b"keep me");
    }

    /// Runs a command, panicking with its output if it fails.
    fn run(cmd: &[&str]) -> String {
        let o = Command::new(cmd[0])
            .args(&cmd[1..])
            .output()
            .unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
        assert!(
            o.status.success(),
            "{cmd:?}: {}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    /// Two network namespaces joined by a veth pair: `c` (the client, 198.51.100.1 on `v0`)
    /// and `s` (the server, 198.51.100.2 on `v1`). Dropping it kills every process in them
    /// and deletes them, whether the test passed or not.
    struct Netns {
        c: String,
        s: String,
    }

    impl Netns {
        fn new() -> Netns {
            let id = std::process::id();
            let n = Netns {
                c: format!("btlive{id}c"),
                s: format!("btlive{id}s"),
            };
            n.teardown();
            run(&["ip", "netns", "add", &n.c]);
            run(&["ip", "netns", "add", &n.s]);
            run(&[
                "ip", "link", "add", "v0", "netns", &n.c, "type", "veth", "peer", "name", "v1",
                "netns", &n.s,
            ]);
            run(&[
                "ip",
                "-n",
                &n.c,
                "addr",
                "add",
                "198.51.100.1/24",
                "dev",
                "v0",
            ]);
            run(&[
                "ip",
                "-n",
                &n.s,
                "addr",
                "add",
                "198.51.100.2/24",
                "dev",
                "v1",
            ]);
            for (ns, dev) in [(&n.c, "v0"), (&n.s, "v1")] {
                run(&["ip", "-n", ns, "link", "set", dev, "up"]);
                run(&["ip", "-n", ns, "link", "set", "lo", "up"]);
            }
            n
        }

        /// A command to run inside namespace `ns`.
        fn exec(ns: &str, cmd: &[&str]) -> Command {
            let mut c = Command::new("ip");
            c.args(["netns", "exec", ns]).args(cmd);
            c
        }

        fn teardown(&self) {
            for ns in [&self.c, &self.s] {
                if let Ok(o) = Command::new("ip").args(["netns", "pids", ns]).output() {
                    for pid in String::from_utf8_lossy(&o.stdout).split_whitespace() {
                        let _ = Command::new("kill").args(["-KILL", pid]).status();
                    }
                }
                let _ = Command::new("ip")
                    .args(["netns", "del", ns])
                    .stderr(Stdio::null())
                    .status();
            }
        }
    }

    impl Drop for Netns {
        fn drop(&mut self) {
            self.teardown();
        }
    }

    /// A child whose standard output and error are collected by threads; killed if dropped
    /// while still running.
    struct Proc {
        child: Child,
        err_lines: mpsc::Receiver<String>,
        err_all: Vec<String>,
        out: Option<thread::JoinHandle<Vec<u8>>>,
    }

    impl Proc {
        fn spawn(mut cmd: Command) -> Proc {
            let mut child = cmd
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn");
            let mut stdout = child.stdout.take().unwrap();
            let out = thread::spawn(move || {
                let mut v = Vec::new();
                let _ = stdout.read_to_end(&mut v);
                v
            });
            let (tx, rx) = mpsc::channel();
            let err = child.stderr.take().unwrap();
            thread::spawn(move || {
                for line in BufReader::new(err).lines().map_while(Result::ok) {
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            });
            Proc {
                child,
                err_lines: rx,
                err_all: Vec::new(),
                out: Some(out),
            }
        }

        /// Waits for a line of standard error containing `what`.
        fn wait_for(&mut self, what: &str, limit: Duration) {
            let until = Instant::now() + limit;
            while let Some(left) = until.checked_duration_since(Instant::now()) {
                match self.err_lines.recv_timeout(left) {
                    Ok(line) => {
                        let found = line.contains(what);
                        self.err_all.push(line);
                        if found {
                            return;
                        }
                    }
                    Err(_) => break,
                }
            }
            let _ = self.child.kill();
            panic!("no {what:?} within {limit:?}; stderr: {:?}", self.err_all);
        }

        /// Waits for the exit (killing it after `limit`): exit code, stdout, stderr.
        fn finish(mut self, limit: Duration) -> (Option<i32>, Vec<u8>, String) {
            let until = Instant::now() + limit;
            let status = loop {
                if let Some(s) = self.child.try_wait().unwrap() {
                    break Some(s);
                }
                if Instant::now() >= until {
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    break None;
                }
                thread::sleep(Duration::from_millis(50));
            };
            let out = self.out.take().unwrap().join().unwrap();
            self.err_all.extend(self.err_lines.try_iter());
            let err = self.err_all.join("\n");
            assert!(
                status.is_some(),
                "still running after {limit:?}; stderr: {err}"
            );
            (status.and_then(|s| s.code()), out, err)
        }
    }

    impl Drop for Proc {
        fn drop(&mut self) {
            if let Ok(None) = self.child.try_wait() {
                let _ = self.child.kill();
                let _ = self.child.wait();
            }
        }
    }

    /// Sniffs the client's outgoing segments (AF_PACKET on `v0`) and, after its Nth BitTorrent
    /// request (a 17-byte segment), forges a RST+ACK from the client to the server: the exact
    /// next sequence number and the client's acknowledgment, as an on-path box would, but
    /// TTL 200 (the client's stack sends 64) and IP ID 0x1234.
    const FORGER: &str = r#"
import socket, struct, sys
iface, sport, dport, after = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
ETH_P_ALL, PACKET_OUTGOING = 0x0003, 4  # only ETH_P_ALL sockets see outgoing frames
def csum(b):
    if len(b) % 2: b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16: s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff
sniff = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
sniff.bind((iface, ETH_P_ALL))
sniff.settimeout(20)
print("forger ready", file=sys.stderr, flush=True)
seen = 0
while True:
    frame, addr = sniff.recvfrom(65535)
    ip = frame[14:]
    if addr[2] != PACKET_OUTGOING or frame[12:14] != b"\x08\x00" or len(ip) < 40 or ip[9] != 6:
        continue
    ihl = (ip[0] & 15) * 4
    tcp = ip[ihl:]
    sp, dp, seq, ack = struct.unpack("!HHII", tcp[:12])
    payload = struct.unpack("!H", ip[2:4])[0] - ihl - (tcp[12] >> 4) * 4
    if (sp, dp) != (sport, dport) or payload != 17: continue
    seen += 1
    if seen == after: break
src, dst, nxt = ip[12:16], ip[16:20], (seq + payload) & 0xffffffff
hdr = struct.pack("!HHIIBBHHH", sport, dport, nxt, ack, 5 << 4, 0x14, 0, 0, 0)
hdr = hdr[:16] + struct.pack("!H", csum(src + dst + struct.pack("!BBH", 0, 6, len(hdr)) + hdr)) + hdr[18:]
iph = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(hdr), 0x1234, 0, 200, 6, 0, src, dst)
iph = iph[:10] + struct.pack("!H", csum(iph)) + iph[12:]
raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
raw.sendto(iph + hdr, (socket.inet_ntoa(dst), 0))
print("forged RST+ACK seq %d ack %d ttl 200" % (nxt, ack), file=sys.stderr, flush=True)
"#;

    fn wait_listen(ns: &str, port: u16) {
        let filter = format!("sport = :{port}");
        for _ in 0..200 {
            let o = Netns::exec(ns, &["ss", "-Hltn", &filter])
                .output()
                .expect("ss");
            if !o.stdout.is_empty() {
                return;
            }
            thread::sleep(Duration::from_millis(25));
        }
        panic!("nothing listens on port {port} in {ns}");
    }

    fn analyze_json(path: &Path) -> Value {
        let o = bttrace(&["analyze", "--format", "json", path.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        let v: Value = serde_json::from_slice(&o.stdout).unwrap();
        v["captures"][0].clone()
    }

    /// The fields a flow is compared on first, for a readable failure; then the whole flow.
    const FLOW_FIELDS: [&str; 10] = [
        "client",
        "server",
        "kind",
        "packets_up",
        "packets_down",
        "bytes_up",
        "bytes_down",
        "goodput_bps",
        "close_state",
        "vantage",
    ];
    const RST_FIELDS: [&str; 6] = ["frame", "sender", "ttl", "seq", "verdict", "evidence"];

    #[test]
    #[ignore = "needs root and network namespaces; .ci/run runs it"]
    fn live_findings_match_analyze_on_the_written_file() {
        let ns = Netns::new();
        let dir = tempfile::tempdir().unwrap();
        let file: PathBuf = dir.path().join("live.pcap");
        let forger = dir.path().join("forger.py");
        std::fs::write(&forger, FORGER).unwrap();
        let filter = "tcp port 6881";

        // Errors first, where they need root: a bad filter, and no permission.
        let o = Netns::exec(
            &ns.s,
            &[BIN, "capture", "-i", "v1", "--filter", "tcp port ((("],
        )
        .output()
        .unwrap();
        assert_eq!(o.status.code(), Some(2));
        assert!(
            stderr(&o).starts_with("bttrace: bad capture filter \"tcp port (((\": "),
            "{}",
            stderr(&o)
        );
        let o = Netns::exec(
            &ns.s,
            &[
                "setpriv",
                "--reuid=65534",
                "--regid=65534",
                "--clear-groups",
                "--inh-caps=-all",
                BIN,
                "capture",
                "-i",
                "v1",
            ],
        )
        .output()
        .unwrap();
        if o.status.code() == Some(2) {
            let err = stderr(&o);
            assert!(
                err.starts_with("bttrace: no permission to capture on v1: ")
                    && err.contains("CAP_NET_RAW"),
                "{err}"
            );
        } else {
            // setpriv missing, or the binary not readable by nobody: nothing to check here.
            eprintln!("skipped the permission check: {o:?}");
        }

        // Two captures of the same traffic: JSON with a file, and the live view in text.
        let duration = "8";
        let mut json = Proc::spawn(Netns::exec(
            &ns.s,
            &[
                BIN,
                "capture",
                "-i",
                "v1",
                "--filter",
                filter,
                "-w",
                file.to_str().unwrap(),
                "--duration",
                duration,
                "--format",
                "json",
                "--quiet",
            ],
        ));
        let mut text = Proc::spawn(Netns::exec(
            &ns.s,
            &[
                BIN,
                "capture",
                "-i",
                "v1",
                "--filter",
                filter,
                "--duration",
                duration,
            ],
        ));
        json.wait_for("capturing on v1", Duration::from_secs(10));
        text.wait_for("capturing on v1", Duration::from_secs(10));

        // A Glasnost-style BitTorrent download; after the client's 25th request (about 2 s of
        // pieces) the forger resets the server, claiming to be the client; the server's stack
        // then answers the client's next segment with a genuine RST.
        let listen = format!("{SERVER}:6881");
        let common = [
            "--kind",
            "bt",
            "--direction",
            "download",
            "--piece-size",
            "16397",
            "--duration",
            "5",
        ];
        let mut server_cmd = vec!["python3", BTPEER, "--role", "server", "--listen", &listen];
        server_cmd.extend(common);
        server_cmd.extend(["--rate", "200000"]);
        let server = Proc::spawn(Netns::exec(&ns.s, &server_cmd));
        wait_listen(&ns.s, 6881);
        let mut forge = Proc::spawn(Netns::exec(
            &ns.c,
            &[
                "python3",
                forger.to_str().unwrap(),
                "v0",
                "50001",
                "6881",
                "25",
            ],
        ));
        forge.wait_for("forger ready", Duration::from_secs(10));
        let bind = format!("{CLIENT}:50001");
        let mut client_cmd = vec![
            "python3",
            BTPEER,
            "--role",
            "client",
            "--connect",
            &listen,
            "--bind",
            &bind,
        ];
        client_cmd.extend(common);
        let client = Proc::spawn(Netns::exec(&ns.c, &client_cmd));
        let (_, _, client_err) = client.finish(Duration::from_secs(15));
        eprintln!("{client_err}");
        let (_, _, server_err) = server.finish(Duration::from_secs(10));
        eprintln!("{server_err}");
        let (forge_code, _, forge_err) = forge.finish(Duration::from_secs(5));
        eprintln!("{forge_err}");
        assert_eq!(forge_code, Some(0), "the forger failed: {forge_err}");

        let (code, out, err) = json.finish(Duration::from_secs(20));
        assert_eq!(code, Some(0), "{err}");
        let (text_code, text_out, text_err) = text.finish(Duration::from_secs(20));
        assert_eq!(text_code, Some(0), "{text_err}");
        let text_out = String::from_utf8(text_out).unwrap();
        eprintln!("live view and report:\n{text_out}");

        let live: Value = serde_json::from_slice(&out).unwrap();
        let live = &live["captures"][0];
        let offline = analyze_json(&file);
        assert_eq!(live["capture"], file.to_str().unwrap());
        assert_eq!(live["error"], Value::Null);
        for k in [
            "frames",
            "tcp_segments",
            "skipped",
            "anomalies",
            "link_types",
        ] {
            assert_eq!(live[k], offline[k], "{k}");
        }
        assert!(live["frames"].as_u64().unwrap() > 10, "{live}");

        // The flows and every RST agree, field by field, then as wholes.
        let (lf, of) = (
            live["flows"].as_array().unwrap(),
            offline["flows"].as_array().unwrap(),
        );
        assert_eq!(lf.len(), of.len());
        for (a, b) in lf.iter().zip(of) {
            for k in FLOW_FIELDS {
                assert_eq!(a[k], b[k], "flow {}: {k}", a["id"]);
            }
            let (ar, br) = (a["rsts"].as_array().unwrap(), b["rsts"].as_array().unwrap());
            assert_eq!(ar.len(), br.len(), "flow {}: RSTs", a["id"]);
            for (x, y) in ar.iter().zip(br) {
                for k in RST_FIELDS {
                    assert_eq!(x[k], y[k], "flow {} RST frame {}: {k}", a["id"], x["frame"]);
                }
            }
            assert_eq!(a, b);
        }

        // And they are what was played: one BitTorrent flow, the forged RST found forged.
        assert_eq!(lf.len(), 1, "{lf:?}");
        let flow = &lf[0];
        assert_eq!(flow["client"], format!("{CLIENT}:50001"));
        assert_eq!(flow["server"], format!("{SERVER}:6881"));
        assert_eq!(flow["kind"], "bittorrent");
        assert!(flow["bytes_down"].as_u64().unwrap() > 16_397, "{flow}");
        let rsts = flow["rsts"].as_array().unwrap();
        let forged = rsts
            .iter()
            .find(|r| r["ttl"] == 200)
            .unwrap_or_else(|| panic!("no RST with TTL 200: {rsts:?}"));
        assert_eq!(forged["sender"], "client");
        assert_eq!(forged["verdict"], "forged", "{forged}");
        let evidence: Vec<&str> = forged["evidence"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(Value::as_str)
            .collect();
        assert!(evidence.contains(&"ttl_other_stack"), "{evidence:?}");

        // The live view named the flow and each RST as it was judged; its report agrees.
        assert!(
            text_out.contains(&format!("flow 1 new: {CLIENT}:50001 -> {SERVER}:6881")),
            "{text_out}"
        );
        // Its kind: on the same line, or on its own once the handshake was in.
        assert!(
            text_out.contains(&format!("-> {SERVER}:6881 (bittorrent)\n"))
                || text_out.contains("flow 1 is bittorrent"),
            "{text_out}"
        );
        for r in rsts {
            let frame = r["frame"].as_u64().unwrap();
            let from = r["sender"].as_str().unwrap();
            let verdict = r["verdict"].as_str().unwrap().to_uppercase();
            assert!(
                text_out.contains(&format!("RST frame {frame} in flow 1 from the {from}")),
                "RST frame {frame} not in the live view:\n{text_out}"
            );
            let in_report = text_out.lines().any(|l| {
                l.trim_start().starts_with(&format!("frame {frame} ("))
                    && l.contains(&format!(": {verdict}  [frame.number == {frame}]"))
            });
            assert!(
                in_report,
                "RST frame {frame} {verdict} not in the report:\n{text_out}"
            );
        }
    }
}
