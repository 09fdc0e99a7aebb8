//! Glasnost's command channel: the text lines a Glasnost client and server exchange on their
//! TCP command connection (any port: 19970 in the 2010+ replayer, 19980 in the 2009 applet's
//! configuration, whatever a deployment chose), parsed into what they announce.
//!
//! Both generations' words, as the server reads them and as its log echoes them:
//! - 2010+ replayer, on the wire (`glasnost_replayer.cc`): `replay <Protocol> <client|server>
//!   <seconds> port <P> [controlFlow]`; echoed in the log as `replay <Protocol> as
//!   client|server on port P for D seconds[ as a control flow].` (some clients send the echo's
//!   words; both are read). `as client` / `client`: the server plays the downloader, the user
//!   uploads. Port 0 asks the server to choose the port (it answers `port N ok`); -1 and -2 ask
//!   for its configured "bad" (application) and "good" (neutral) port.
//! - 2009 BitTorrent test: `[setup ]bt|tcp downstream|upstream port P duration D`
//!   (`downstream`: the server receives, the user uploads; `tcp`: the control transfer;
//!   `setup`: a short warm-up transfer that is not a measurement).
//! - Server lines: `ok`, `port N ok` (the port it listens on), `ip <ip> <host> id <ts>`,
//!   `busy ...`; client lines besides commands: `log <text>` (the client's own measurement or
//!   failure report, logged as `Client: <text>`), `shutdown`, `protos ...`, `script ...`.
//!
//! Everything here is a pure function of one line; nothing allocates beyond the parsed words.

/// A transfer the command announces.
#[derive(Debug, Clone, PartialEq)]
pub struct Announced {
    /// `true` for the application (BitTorrent) emulation, `false` for its random-payload
    /// control twin.
    pub app: bool,
    /// The protocol the command names (`BitTorrent`, `bt`, `eMule`, ...).
    pub protocol: String,
    /// The user uploads (the server receives).
    pub upload: bool,
    pub port: PortRequest,
    /// The duration the command gives, seconds.
    pub duration_s: Option<f64>,
    /// A 2009 warm-up transfer, not a measurement.
    pub setup: bool,
    /// Whether `app` is known: a line cut short by the capture's snaplen ([`CUT`]) before a
    /// replayer command's closing words may have lost its `controlFlow`.
    pub kind_known: bool,
}

/// Appended to a line whose end the capture did not keep (a hole in the stream).
pub const CUT: char = '\u{2026}';

/// The port a command asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PortRequest {
    Port(u16),
    /// Port 0: the server chooses and tells (`port N ok`).
    ServerChooses,
    /// Port -1 / -2: the server's configured application ("bad") or neutral ("good") port.
    ServerApp,
    ServerNeutral,
}

/// One line of a command channel, or of a log's `Received:` echo.
#[derive(Debug, Clone, PartialEq)]
pub enum Line {
    Transfer(Announced),
    /// `ok`, or `port N ok`.
    Ok {
        port: Option<u16>,
    },
    /// `log <text>` from the client.
    Log(String),
    /// `ip <ip> <host> id <ts>`, `shutdown`, `protos ...`, `script ...`, `busy ...`,
    /// `areyouthere`, `yes`, `no proto`: the channel's other words.
    Other,
}

impl Line {
    /// Lines only a Glasnost command channel carries (a bare `ok` or `yes` is not enough).
    pub fn is_distinctive(&self) -> bool {
        match self {
            Line::Transfer(_) => true,
            Line::Ok { port } => port.is_some(),
            Line::Log(_) | Line::Other => false,
        }
    }
}

fn duration(word: &str) -> Option<f64> {
    let v: f64 = word.trim_end_matches('.').parse().ok()?;
    (v.is_finite() && v >= 0.0).then_some(v)
}

fn port_request(word: &str) -> Option<PortRequest> {
    let n: i64 = word.trim_end_matches('.').parse().ok()?;
    Some(match n {
        0 => PortRequest::ServerChooses,
        -1 => PortRequest::ServerApp,
        -2 => PortRequest::ServerNeutral,
        1..=65535 => PortRequest::Port(n as u16),
        _ => return None,
    })
}

/// The word after `key` in `words`.
fn after<'a>(words: &[&'a str], key: &str) -> Option<&'a str> {
    let i = words.iter().position(|w| *w == key)?;
    words.get(i + 1).copied()
}

/// A protocol word that names the BitTorrent emulation.
pub fn is_bittorrent(protocol: &str) -> bool {
    let p = protocol.to_ascii_lowercase();
    p == "bt" || p.starts_with("bittorrent")
}

/// Parses one line (without its newline). Case and surrounding spaces do not matter.
pub fn parse(line: &str) -> Option<Line> {
    let lower = line.trim().to_ascii_lowercase();
    let words: Vec<&str> = lower.split_whitespace().collect();
    let original: Vec<&str> = line.split_whitespace().collect();
    match words.as_slice() {
        [] => None,
        ["replay", ..] => replay(&words, &original).map(Line::Transfer),
        ["setup", rest @ ..] => v2009(rest, true).map(Line::Transfer),
        ["bt" | "tcp", ..] => v2009(&words, false).map(Line::Transfer),
        ["ok"] => Some(Line::Ok { port: None }),
        ["port", n, "ok"] => n.parse().ok().map(|p| Line::Ok { port: Some(p) }),
        ["log", ..] => {
            let text = line.trim().get(3..).unwrap_or("").trim();
            Some(Line::Log(text.chars().take(512).collect()))
        }
        ["ip", _, _, "id", ..]
        | ["shutdown", ..]
        | ["protos", ..]
        | ["script", ..]
        | ["busy", ..]
        | ["areyouthere"]
        | ["yes"]
        | ["no", "proto" | "script"]
        | ["unknown", "proto", ..] => Some(Line::Other),
        _ => None,
    }
}

/// `replay <proto> <client|server> <secs> port <P> [controlFlow]`, or the log's words
/// `replay <proto> as client|server on port P for D seconds[ as a control flow].`
fn replay(words: &[&str], original: &[&str]) -> Option<Announced> {
    let protocol = original.get(1)?.to_string();
    let (upload, port, secs, control) = match words.get(2..)? {
        ["as", role, rest @ ..] => {
            let port = port_request(after(rest, "port")?)?;
            let secs = after(rest, "for").and_then(duration);
            let control = rest.windows(2).any(
                |w| matches!(w, [a, b] if *a == "control" && b.trim_end_matches('.') == "flow"),
            ) || rest
                .iter()
                .rposition(|w| *w == "seconds")
                .is_some_and(|i| continues_as(rest.get(i + 1..).unwrap_or(&[]), "asacontrolflow"));
            (role_upload(role)?, port, secs, control)
        }
        [role, secs, "port", p, rest @ ..] => {
            let control = rest.iter().any(|w| w.starts_with("controlflow"))
                || continues_as(rest, "controlflow");
            (
                role_upload(role)?,
                port_request(p)?,
                duration(secs),
                control,
            )
        }
        _ => return None,
    };
    // A cut line that still shows the control marker is a control flow; one that does not
    // may have lost it.
    let cut = original.last().is_some_and(|w| w.ends_with(CUT));
    Some(Announced {
        app: !control,
        protocol,
        upload,
        port,
        duration_s: secs,
        setup: false,
        kind_known: control || !cut,
    })
}

/// Whether the words after a transfer's duration (or port, in the command channel's form), on
/// a line cut by the snaplen ([`CUT`]), are the start of `marker` (spaces and case aside). The
/// only words the grammar allows there are the control-flow marker; a BitTorrent transfer's
/// line ends before them. So a cut line that still shows the marker's first letters
/// (`... for 2 seconds as a cont…`) was a control flow's. A line cut at or before the duration
/// tells nothing.
fn continues_as(tail: &[&str], marker: &str) -> bool {
    let tail: String = tail.concat();
    let Some(tail) = tail.strip_suffix(CUT) else {
        return false;
    };
    !tail.is_empty() && marker.starts_with(tail)
}

/// The server plays the protocol's `client` (the downloader): the user uploads.
fn role_upload(role: &str) -> Option<bool> {
    match role.trim_end_matches('.') {
        "client" => Some(true),
        "server" => Some(false),
        _ => None,
    }
}

/// `bt|tcp downstream|upstream port P duration D` (after `setup`, without the kind).
fn v2009(words: &[&str], setup: bool) -> Option<Announced> {
    let (app, rest) = match words {
        ["bt", rest @ ..] => (true, rest),
        ["tcp", rest @ ..] => (false, rest),
        // `setup downstream port 6881 duration 6`: no kind.
        rest if setup => (true, rest),
        _ => return None,
    };
    let upload = match *rest.first()? {
        "downstream" => true,
        "upstream" => false,
        _ => return None,
    };
    Some(Announced {
        app,
        protocol: "BitTorrent".into(),
        upload,
        port: port_request(after(rest, "port")?)?,
        duration_s: after(rest, "duration").and_then(duration),
        setup,
        kind_known: true,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn transfer(line: &str) -> Announced {
        match parse(line) {
            Some(Line::Transfer(a)) => a,
            other => panic!("{line:?}: {other:?}"),
        }
    }

    #[test]
    fn the_replayers_wire_words() {
        let a = transfer("replay BitTorrent client 20 port 6881");
        assert!(a.app && a.upload && !a.setup);
        assert_eq!(
            (a.port, a.duration_s, a.protocol.as_str()),
            (PortRequest::Port(6881), Some(20.0), "BitTorrent")
        );
        let a = transfer("replay BitTorrent server 21 port 0 controlFlow");
        assert!(!a.app && !a.upload);
        assert_eq!(a.port, PortRequest::ServerChooses);
        assert_eq!(
            transfer("replay BitTorrent client 20 port -1").port,
            PortRequest::ServerApp
        );
        assert_eq!(
            transfer("replay BitTorrent client 20 port -2").port,
            PortRequest::ServerNeutral
        );
    }

    #[test]
    fn the_logs_echo_words() {
        let a = transfer("replay BitTorrent as client on port 6881 for 21 seconds.");
        assert!(a.app && a.upload);
        assert_eq!(
            (a.port, a.duration_s),
            (PortRequest::Port(6881), Some(21.0))
        );
        let a = transfer("replay bt as server on port 0 for 20 seconds as a control flow.");
        assert!(!a.app && !a.upload);
        assert_eq!(a.port, PortRequest::ServerChooses);
    }

    #[test]
    fn a_cut_line_is_known_by_what_it_still_shows() {
        let c = CUT;
        // Cut inside the control marker: still a control flow.
        for tail in ["as", "as a", "as a cont", "as a control fl"] {
            let a = transfer(&format!(
                "replay bt as client on port 6881 for 2 seconds {tail}{c}"
            ));
            assert!(!a.app && a.kind_known, "{tail}");
        }
        let a = transfer(&format!("replay BitTorrent client 20 port 6881 contr{c}"));
        assert!(!a.app && a.kind_known);
        // Cut at or before the duration: the marker may have been lost.
        for line in [
            format!("replay bt as client on port 6881 for 2 seconds{c}"),
            format!("replay bt as client on port 6881 for 2 seco{c}"),
            format!("replay BitTorrent client 20 port 6881 {c}"),
        ] {
            assert!(!transfer(&line).kind_known, "{line}");
        }
        // A port cut short is no port: no transfer is read from the line.
        assert_eq!(
            parse(&format!("replay BitTorrent client 20 port 68{c}")),
            None
        );
        // Words that are not the marker's start tell nothing either.
        let a = transfer(&format!(
            "replay bt as client on port 6881 for 2 seconds xy{c}"
        ));
        assert!(!a.kind_known);
    }

    #[test]
    fn the_2009_words() {
        let a = transfer("bt downstream port 6881 duration 11");
        assert!(a.app && a.upload && !a.setup);
        assert_eq!(
            (a.port, a.duration_s),
            (PortRequest::Port(6881), Some(11.0))
        );
        let a = transfer("tcp upstream port 4711 duration 10");
        assert!(!a.app && !a.upload);
        let a = transfer("setup downstream port 6881 duration 6");
        assert!(a.setup && a.upload);
        let a = transfer("setup bt upstream port 10009 duration 6");
        assert!(a.setup && !a.upload && a.app);
    }

    #[test]
    fn replies_and_other_words() {
        assert_eq!(parse("port 50806 ok"), Some(Line::Ok { port: Some(50806) }));
        assert_eq!(parse("ok"), Some(Line::Ok { port: None }));
        assert!(!parse("ok").unwrap().is_distinctive());
        assert!(parse("port 50806 ok").unwrap().is_distinctive());
        assert_eq!(
            parse("log Transferred 1.5E9 bytes in 10.0 seconds: 1.2E9"),
            Some(Line::Log(
                "Transferred 1.5E9 bytes in 10.0 seconds: 1.2E9".into()
            ))
        );
        assert_eq!(
            parse("ip 198.51.100.1 host.example id 1300000000 "),
            Some(Line::Other)
        );
        assert_eq!(parse("shutdown"), Some(Line::Other));
    }

    #[test]
    fn other_text_is_not_a_command() {
        for line in [
            "GET / HTTP/1.1",
            "replay",
            "replay bt sideways 20 port 6881",
            "replay bt client 20 port 70000",
            "bt sideways port 6881 duration 3",
            "tcp downstream duration 3",
            "port abc ok",
            "",
        ] {
            assert!(
                !matches!(parse(line), Some(Line::Transfer(_))),
                "{line:?}: {:?}",
                parse(line)
            );
        }
        assert!(is_bittorrent("BitTorrent") && is_bittorrent("bt") && !is_bittorrent("eMule"));
    }
}
