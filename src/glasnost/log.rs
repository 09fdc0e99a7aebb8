//! Glasnost's server log (the `.log` beside a capture), both formats.
//!
//! Lines may start with a 13-digit epoch-milliseconds timestamp. The 2009 BitTorrent test
//! writes `Received: [setup ]bt|tcp downstream|upstream port P duration D`, then for a
//! transfer `Running BT|TCP downstream|upstream transfer port P .`, `End of transfer; N bytes
//! and M pieces transferred`, `Resets: R ; Resets sent: S`, `Transferred|Transfered N bytes in
//! T seconds: X bps` and `Client: Transferred ...`. "Downstream" there means the server
//! receives: the user uploads. The 2010+ replayer writes `Received: replay <proto> as
//! client|server on port P for D seconds[ as a control flow].`, `Running [control flow of
//! ]<proto> as ... on port P .`, `End of transfer; X bytes transferred and Y bytes received`,
//! `Resets received: R ; Resets sent: S`, `Transmitted ...` or `FAILED: ...`. "As client" means
//! the user uploads. `Resets` count RSTs whose IP source is the client; `Resets sent` those the
//! server sent. Unknown lines are counted, never fatal.

use std::net::IpAddr;

use serde::Serialize;

use crate::btparse::command;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    Bt2009,
    Replayer,
}

/// One transfer as the log tells it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LogTransfer {
    /// BitTorrent emulation, or its random-payload control twin.
    pub bittorrent: bool,
    /// The user uploads (the server receives).
    pub upload: bool,
    pub port: u16,
    /// Planned duration, seconds.
    pub duration_s: Option<f64>,
    /// Epoch milliseconds of the `Running` line, or the last timestamp before it.
    pub time_ms: Option<i64>,
    /// Epoch milliseconds of the `Received:` command that announced it (the 2009 server
    /// writes `Running` only once the client connected, seconds later when it never did).
    pub command_ms: Option<i64>,
    /// Bytes the server counted in the transfer (received for uploads, sent for downloads).
    pub bytes: Option<u64>,
    /// The server's measurement: seconds and bits per second.
    pub seconds: Option<f64>,
    pub bps: Option<f64>,
    /// The client's own measurement, bits per second.
    pub client_bps: Option<f64>,
    /// RSTs from the client, and RSTs the server sent.
    pub resets_received: Option<u32>,
    pub resets_sent: Option<u32>,
    pub failed: Option<String>,
    /// `errno` of `Connection closed (read, errno=N, ...)`.
    pub closed_errno: Option<i32>,
    /// What the port of the command asked for: the server chose the port (`port 0`, the
    /// neutral port it then told the client, or `-2`), or its application port (`-1`).
    pub port_chosen_by_server: bool,
    pub port_app_requested: bool,
    /// The server's own counts: bytes it sent and received, and the seconds it measured.
    pub server_sent: Option<u64>,
    pub server_received: Option<u64>,
    pub server_seconds: Option<f64>,
    /// The client's counts, as it reported them (`Client: ...`).
    pub client_sent: Option<u64>,
    pub client_received: Option<u64>,
    pub client_seconds: Option<f64>,
    /// The client reported a failure (`Client: FAILED ...`, `Client: Exception ...`).
    pub client_failed: bool,
    /// `Accept timeout: Peer did not show up.`: the client never connected.
    pub accept_timeout: bool,
}

impl LogTransfer {
    fn new(bittorrent: bool, upload: bool, port: u16, time_ms: Option<i64>) -> LogTransfer {
        LogTransfer {
            bittorrent,
            upload,
            port,
            duration_s: None,
            time_ms,
            command_ms: None,
            bytes: None,
            seconds: None,
            bps: None,
            client_bps: None,
            resets_received: None,
            resets_sent: None,
            failed: None,
            closed_errno: None,
            port_chosen_by_server: false,
            port_app_requested: false,
            server_sent: None,
            server_received: None,
            server_seconds: None,
            client_sent: None,
            client_received: None,
            client_seconds: None,
            client_failed: false,
            accept_timeout: false,
        }
    }

    /// The transfer's speed as Glasnost measured it (glasnost-analysis2.php): an upload by
    /// the bytes the server received over the server's seconds, a download by the bytes the
    /// client received over the client's seconds. Where the receiver's numbers are missing,
    /// the server's count in the transfer's direction stands in (`true` in the second field).
    pub fn glasnost_bps(&self) -> Option<(f64, bool)> {
        let rate = |bytes: Option<u64>, secs: Option<f64>| {
            let (b, s) = (bytes?, secs?);
            (s > 0.0 && s.is_finite()).then(|| b as f64 * 8.0 / s)
        };
        let receiver = if self.upload {
            rate(self.server_received, self.server_seconds)
        } else {
            rate(self.client_received, self.client_seconds)
        };
        receiver.map(|r| (r, false)).or_else(|| {
            let sent = if self.upload {
                self.server_received
            } else {
                self.server_sent
            };
            rate(sent.or(self.bytes), self.server_seconds.or(self.seconds)).map(|r| (r, true))
        })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GlasnostLog {
    pub format: Option<LogFormat>,
    pub client_host: Option<String>,
    pub client_ip: Option<IpAddr>,
    /// `Using ports A and B for measurements.` (the 2009 test: A is the BitTorrent port).
    pub ports: Option<(u16, u16)>,
    pub transfers: Vec<LogTransfer>,
    /// `setup` transfers announced (the 2009 warm-up, not measurements).
    pub setups: usize,
    pub lines: usize,
    /// Lines that were none of the above (kept as a count).
    pub unknown_lines: usize,
    /// Signs of a damaged log (Asghari's checks): a second `Client ... connected` (two
    /// sessions logging into one file; only the first is read), lines whose timestamp is not
    /// followed by a space.
    pub second_session: bool,
    pub bad_stamps: usize,
    /// The last line has no newline: the test was killed mid-way (the last transfer may be
    /// incomplete).
    pub cut_short: bool,
    /// The log's last timestamp, epoch milliseconds.
    pub last_ms: Option<i64>,
}

/// Most transfers read from one log; a log claiming more is cut there.
const MAX_TRANSFERS: usize = 1000;

/// Splits a leading 13-digit millisecond timestamp off a line.
fn stamp(line: &str) -> (Option<i64>, &str) {
    let t = line.trim_start();
    let digits = t.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 13 {
        let (n, rest) = t.split_at(13);
        (n.parse().ok(), rest.trim_start())
    } else {
        (None, t)
    }
}

/// The first number in `s` (digits, a dot, an exponent), as f64.
fn number(s: &str) -> Option<f64> {
    let start = s.find(|c: char| c.is_ascii_digit())?;
    let rest = s.get(start..)?;
    let end = rest
        .find(|c: char| {
            !(c.is_ascii_digit() || c == '.' || c == 'E' || c == 'e' || c == '-' || c == '+')
        })
        .unwrap_or(rest.len());
    rest.get(..end)?
        .trim_end_matches(['.', 'E', 'e', '-', '+'])
        .parse()
        .ok()
}

/// The word after `key` in `s`, parsed.
fn after<T: std::str::FromStr>(s: &str, key: &str) -> Option<T> {
    let i = s.find(key)? + key.len();
    s.get(i..)?
        .split_whitespace()
        .next()?
        .trim_end_matches('.')
        .parse()
        .ok()
}

pub fn parse(text: &str) -> GlasnostLog {
    let mut log = GlasnostLog {
        format: None,
        client_host: None,
        client_ip: None,
        ports: None,
        transfers: Vec::new(),
        setups: 0,
        lines: 0,
        unknown_lines: 0,
        second_session: false,
        bad_stamps: 0,
        cut_short: !text.is_empty() && !text.ends_with('\n'),
        last_ms: None,
    };
    let mut last_time = None;
    // The last transfer came from a command and waits for its `Running` line.
    let mut fresh = false;
    for raw in text.lines() {
        log.lines += 1;
        let (t, line) = stamp(raw);
        if t.is_some() {
            last_time = t;
            log.last_ms = t;
        } else if raw.len() > 13 && raw.bytes().take(13).all(|b| b.is_ascii_digit()) {
            log.bad_stamps += 1;
        }
        let current = log.transfers.last_mut();
        if let Some(rest) = line
            .strip_prefix("Client ")
            .filter(|r| r.contains(" connected"))
        {
            // "Client <host> <ip> connected[ (port N)]"
            if log.client_host.is_some() || log.client_ip.is_some() {
                log.second_session = true;
                break;
            }
            let words: Vec<&str> = rest.split_whitespace().collect();
            if let [host, ip, ..] = words.as_slice() {
                log.client_host = Some((*host).to_string());
                log.client_ip = ip.parse().ok();
            }
        } else if let Some(rest) = line.strip_prefix("Using ports ") {
            // "Using ports 6881 and 10009 for measurements."
            let mut nums = rest
                .split(|c: char| !c.is_ascii_digit())
                .filter_map(|w| w.parse::<u16>().ok());
            if let (Some(a), Some(b)) = (nums.next(), nums.next()) {
                log.ports = Some((a, b));
            }
        } else if let Some(rest) = line.strip_prefix("Running ") {
            match running(rest, t.or(last_time), &mut log.format) {
                // The transfer its command announced: the line gives its start and port.
                Some(tr) if fresh => {
                    if let Some(c) = log.transfers.last_mut() {
                        c.time_ms = tr.time_ms;
                        if tr.port != 0 {
                            c.port = tr.port;
                        }
                    }
                    fresh = false;
                }
                Some(tr) if log.transfers.len() < MAX_TRANSFERS => log.transfers.push(tr),
                Some(_) => {}
                None => log.unknown_lines += 1,
            }
        } else if let Some(rest) = line.strip_prefix("Received: ") {
            // A command starts a transfer (some servers write no `Running` line).
            match command::parse(rest) {
                Some(command::Line::Transfer(a)) if a.setup => log.setups += 1,
                Some(command::Line::Transfer(a)) if log.transfers.len() < MAX_TRANSFERS => {
                    let at = t.or(last_time);
                    let port = match a.port {
                        command::PortRequest::Port(p) => p,
                        _ => 0,
                    };
                    let mut tr = LogTransfer::new(a.app, a.upload, port, at);
                    tr.command_ms = at;
                    tr.duration_s = a.duration_s;
                    tr.port_chosen_by_server = matches!(
                        a.port,
                        command::PortRequest::ServerChooses | command::PortRequest::ServerNeutral
                    );
                    tr.port_app_requested = a.port == command::PortRequest::ServerApp;
                    log.format.get_or_insert(
                        if rest.trim_start().to_ascii_lowercase().starts_with("replay") {
                            LogFormat::Replayer
                        } else {
                            LogFormat::Bt2009
                        },
                    );
                    log.transfers.push(tr);
                    fresh = true;
                }
                _ => {}
            }
        } else if line.starts_with("Telling the client to use port")
            || line.starts_with("Overwriting port")
        {
            // "Telling the client to use port 50806." / "Overwriting port -1 with 6881"
            let told: Option<u16> = line
                .rsplit(|c: char| !c.is_ascii_digit())
                .find(|w| !w.is_empty())
                .and_then(|w| w.parse().ok());
            if let (Some(p), Some(c)) = (told, log.transfers.last_mut()) {
                if fresh {
                    c.port = p;
                }
            }
        } else if let Some(rest) = line.strip_prefix("End of transfer;") {
            if let Some(c) = current {
                c.bytes = end_of_transfer(rest, c.upload);
            }
        } else if line.starts_with("Resets") {
            if let Some(c) = current {
                // "Resets: R ; Resets sent: S" or "Resets received: R ; Resets sent: S"
                let (a, b) = line.split_once(';').unwrap_or((line, ""));
                c.resets_received = number(a).map(|n| n as u32);
                c.resets_sent = number(b).map(|n| n as u32);
            }
        } else if line.starts_with("Accept timeout") {
            if let Some(c) = current {
                c.accept_timeout = true;
            }
        } else if let Some(rest) = line.strip_prefix("Client: ") {
            let rest = rest.trim_start_matches('#').trim();
            if let Some(c) = current {
                let (failed, counts) = match rest.strip_prefix("FAILED:") {
                    Some(r) => (true, r.trim()),
                    None => (false, rest),
                };
                if let Some(m) = measurement(counts) {
                    c.client_bps = m.bps.or(c.client_bps);
                    // The client's "transferred" is what it wrote; "received" what arrived.
                    match m.received {
                        Some(got) => {
                            c.client_sent = Some(m.sent);
                            c.client_received = Some(got);
                        }
                        // 2009: one count, the bytes in the transfer's direction.
                        None if c.upload => c.client_sent = Some(m.sent),
                        None => c.client_received = Some(m.sent),
                    }
                    c.client_seconds = m.seconds;
                }
                if failed || rest.starts_with("Exception") || rest.contains("transfer reset") {
                    c.client_failed = true;
                }
            }
        } else if let Some(rest) = line.strip_prefix("FAILED:") {
            if let Some(c) = current {
                let rest = rest.trim();
                c.failed = Some(rest.chars().take(200).collect());
                if let Some(m) = measurement(rest) {
                    server_counts(c, &m);
                }
            }
        } else if let Some(m) = measurement(line) {
            if let Some(c) = current {
                server_counts(c, &m);
            }
        } else if let Some(rest) = line.strip_prefix("Connection closed") {
            if let Some(c) = current {
                c.closed_errno = after(rest, "errno=").or_else(|| {
                    rest.split("errno=")
                        .nth(1)?
                        .split(|c: char| !c.is_ascii_digit())
                        .next()?
                        .parse()
                        .ok()
                });
            }
        } else if !line.is_empty() {
            log.unknown_lines += 1;
        }
    }
    log
}

/// A measurement line's numbers: `Transfer(r)ed N bytes in T seconds: X bps` (2009),
/// `Transmitted|Transferred X bytes and received Y bytes in T seconds: A B bps (state=k)`
/// (2010+), or `Transmitted X bytes (state=k)`.
struct Measurement {
    sent: u64,
    received: Option<u64>,
    seconds: Option<f64>,
    /// The first rate the line gives (its own direction's).
    bps: Option<f64>,
}

fn measurement(line: &str) -> Option<Measurement> {
    let rest = ["Transferred ", "Transfered ", "Transmitted "]
        .iter()
        .find_map(|p| line.strip_prefix(p))?;
    let sent = number(rest.split_whitespace().next()?)? as u64;
    let received = rest
        .split_once(" received ")
        .and_then(|(_, r)| number(r.split_whitespace().next()?))
        .map(|n| n as u64);
    let seconds = after(rest, "bytes in ");
    let bps = rest.split_once(':').and_then(|(_, r)| number(r));
    Some(Measurement {
        sent,
        received,
        seconds,
        bps,
    })
}

fn server_counts(c: &mut LogTransfer, m: &Measurement) {
    match m.received {
        Some(got) => {
            c.server_sent = Some(m.sent);
            c.server_received = Some(got);
        }
        None if c.upload => c.server_received = Some(m.sent),
        None => c.server_sent = Some(m.sent),
    }
    c.seconds = m.seconds.or(c.seconds);
    c.server_seconds = m.seconds;
    c.bps = m.bps.or(c.bps);
}

/// "BT downstream transfer port 6881 ." or "control flow of bt as client on port 50000 ."
fn running(
    rest: &str,
    time_ms: Option<i64>,
    format: &mut Option<LogFormat>,
) -> Option<LogTransfer> {
    let lower = rest.to_ascii_lowercase();
    let port: u16 = after(&lower, "port ")?;
    let (bittorrent, upload, fmt) = if lower.contains(" as client") || lower.contains(" as server")
    {
        let control = lower.starts_with("control flow of");
        (!control, lower.contains(" as client"), LogFormat::Replayer)
    } else {
        let bt = lower.starts_with("bt ");
        if !bt && !lower.starts_with("tcp ") {
            return None;
        }
        (bt, lower.contains("downstream"), LogFormat::Bt2009)
    };
    format.get_or_insert(fmt);
    Some(LogTransfer::new(bittorrent, upload, port, time_ms))
}

/// " 1567174546 bytes and 5978 pieces transferred" or " X bytes transferred and Y bytes
/// received": the bytes the server counted in the transfer's direction.
fn end_of_transfer(rest: &str, upload: bool) -> Option<u64> {
    if rest.contains("received") {
        let (sent, got) = rest.split_once(" and ")?;
        let pick = if upload { got } else { sent };
        number(pick).map(|n| n as u64)
    } else {
        number(rest).map(|n| n as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The study's Appendix A, as the server wrote it (its annotations removed).
    const STUDY: &str = "1257080089509 Starting BT client v2.2.1
1257080089509 Configuration: -p 19980 -h 255.255.255.255 -i eth0 -o
Client frankyeung-bt.no-ip.org 192.168.1.100 connected
Saving trace to bt_192.168.1.100_frankyeung-bt.no-ip.org_1257080094.dump
Received: setup downstream port 6881 duration 6
Setting up downstream transfer.
1257080099655 Closing transfer socket
Received: bt downstream port 6881 duration 11
Running BT downstream transfer port 6881 .
1257080103656 Socket 19 set to nonblocking
1257080103656 Sending handshake message
1257080103658 Received bitfield message
1257080113658 Connection closed (read, errno=0, state=24)
1257080113658 End of transfer; 1567174546 bytes and 5978 pieces transferred
Resets: 0 ; Resets sent: 0
Transferred 1567174546 bytes in 10.002 seconds: 1253489440 bps
Client: Transferred 1.567096832E9 bytes in 10.001 seconds: 1.253552110388961E9
Received: tcp downstream port 6881 duration 11
Running TCP downstream transfer port 6881 .
1257080220670 Connection closed (read, errno=104, state=24)
1257080220670 End of transfer; 1592341618 bytes and 6074 pieces transferred
Resets: 1 ; Resets sent: 0
Transfered 1592341618 bytes in 9.997 seconds: 1274218863 bps
Received: bt upstream port 4711 duration 10
Running BT upstream transfer port 4711 .
FAILED: Connection reset by peer
";

    #[test]
    fn the_2009_log() {
        let log = parse(STUDY);
        assert_eq!(log.format, Some(LogFormat::Bt2009));
        assert_eq!(log.client_host.as_deref(), Some("frankyeung-bt.no-ip.org"));
        assert_eq!(
            log.client_ip.map(|i| i.to_string()).as_deref(),
            Some("192.168.1.100")
        );
        assert_eq!(log.transfers.len(), 3, "the setup phase is not a transfer");
        let t = &log.transfers[0];
        assert!(
            t.bittorrent && t.upload,
            "downstream: the server receives, the user uploads"
        );
        assert_eq!(
            (t.port, t.duration_s, t.time_ms),
            (6881, Some(11.0), Some(1_257_080_099_655))
        );
        assert_eq!(t.bytes, Some(1_567_174_546));
        assert_eq!((t.seconds, t.bps), (Some(10.002), Some(1_253_489_440.0)));
        assert_eq!(t.client_bps, Some(1.253552110388961e9));
        assert_eq!(
            (t.resets_received, t.resets_sent, t.closed_errno),
            (Some(0), Some(0), Some(0))
        );
        let t = &log.transfers[1];
        assert!(!t.bittorrent, "tcp: the control transfer");
        assert_eq!(
            t.bps,
            Some(1_274_218_863.0),
            "the misspelt 'Transfered' too"
        );
        assert_eq!((t.resets_received, t.closed_errno), (Some(1), Some(104)));
        let t = &log.transfers[2];
        assert!(t.bittorrent && !t.upload);
        assert_eq!(t.failed.as_deref(), Some("Connection reset by peer"));
    }

    #[test]
    fn the_replayer_log() {
        let text = "1300000000000 Client host.example 203.0.113.5 connected
1300000001000 Received: replay bt as client on port 6881 for 20 seconds.
1300000001000 Running bt as client on port 6881 .
1300000021500 End of transfer; 512 bytes transferred and 31250000 bytes received
1300000021500 Resets received: 0 ; Resets sent: 0
1300000021500 Transmitted 31250000 bytes (state=3)
1300000022000 Received: replay bt as server on port 6881 for 20 seconds as a control flow.
1300000022000 Running control flow of bt as server on port 6881 .
1300000042500 End of transfer; 25000000 bytes transferred and 300 bytes received
1300000042500 Resets received: 2 ; Resets sent: 0
1300000042500 Client: Exception: java.net.SocketException: Connection reset
Done.
";
        let log = parse(text);
        assert_eq!(log.format, Some(LogFormat::Replayer));
        assert_eq!(log.transfers.len(), 2);
        let (a, b) = (&log.transfers[0], &log.transfers[1]);
        assert!(a.bittorrent && a.upload);
        assert_eq!((a.bytes, a.duration_s), (Some(31_250_000), Some(20.0)));
        assert!(!b.bittorrent && !b.upload);
        assert_eq!((b.bytes, b.resets_received), (Some(25_000_000), Some(2)));
    }

    #[test]
    fn garbage_is_counted_not_fatal() {
        let log = parse("\u{0}\u{1}binary junk\nRunning nonsense\n9999999999999999999 x\n");
        assert!(log.transfers.is_empty());
        assert_eq!(log.unknown_lines, 3);
        assert_eq!(log.format, None);
    }
}
