//! Naming the client behind a peer id (and an extended handshake's `v`).
//!
//! Conventions (BEP 20 and practice): Azureus style `-XXvvvv-` (two letters, four version
//! characters); Shadow style (one letter, version characters, dashes); Mainline `Mv-v-v--`;
//! and a few fixed prefixes (`exbc` BitComet, `FUTB`, ...). Unknown conventions yield `None`.

/// Two-letter Azureus-style codes, the clients seen in this field's captures.
const AZUREUS: &[(&str, &str)] = &[
    ("AG", "Ares"),
    ("AZ", "Vuze"),
    ("BB", "BitBuddy"),
    ("BC", "BitComet"),
    ("BI", "BiglyBT"),
    ("BT", "BitTorrent"),
    ("BW", "BitWombat"),
    ("DE", "Deluge"),
    ("FD", "Free Download Manager"),
    ("FG", "FlashGet"),
    ("GN", "Glasnost"),
    ("KT", "KTorrent"),
    ("LT", "libtorrent (Rasterbar)"),
    ("lt", "libTorrent (rakshasa)"),
    ("LW", "LimeWire"),
    ("MG", "MediaGet"),
    ("PI", "PicoTorrent"),
    ("qB", "qBittorrent"),
    ("SD", "Xunlei"),
    ("TL", "Tribler"),
    ("TR", "Transmission"),
    ("UM", "µTorrent Mac"),
    ("UT", "µTorrent"),
    ("UW", "µTorrent Web"),
    ("WW", "WebTorrent"),
    ("XL", "Xunlei"),
];

/// Shadow-style single-letter codes.
const SHADOW: &[(u8, &str)] = &[
    (b'A', "ABC"),
    (b'O', "Osprey Permaseed"),
    (b'Q', "BTQueue"),
    (b'R', "Tribler"),
    (b'S', "Shadow"),
    (b'T', "BitTornado"),
    (b'U', "UPnP NAT BitTorrent"),
];

/// The client's name and version from its peer id, where it follows a known convention.
pub fn client_name(id: &[u8]) -> Option<String> {
    azureus(id)
        .or_else(|| aria2(id))
        .or_else(|| mainline(id))
        .or_else(|| shadow(id))
        .or_else(|| fixed(id))
}

fn azureus(id: &[u8]) -> Option<String> {
    let [b'-', c1, c2, v @ .., b'-'] = id.get(..8)? else {
        return None;
    };
    if !v.iter().all(u8::is_ascii_alphanumeric)
        || !c1.is_ascii_alphanumeric()
        || !c2.is_ascii_alphanumeric()
    {
        return None;
    }
    let code = std::str::from_utf8(&[*c1, *c2]).ok()?.to_string();
    let name = AZUREUS
        .iter()
        .find(|(c, _)| *c == code)
        .map_or_else(|| format!("unknown client {code}"), |(_, n)| n.to_string());
    let version = if code == "TR" {
        // Transmission: "3000" is 3.00, "294Z" a 2.94 beta.
        let d: String = v.iter().map(|&c| c as char).collect();
        format!("{}.{}", d.get(..1)?, d.get(1..3)?)
    } else {
        let parts: Vec<String> = v.iter().map(|&c| version_char(c)).collect();
        let mut parts = parts;
        while parts.len() > 2 && parts.last().is_some_and(|p| p == "0") {
            parts.pop();
        }
        parts.join(".")
    };
    Some(format!("{name} {version}"))
}

fn version_char(c: u8) -> String {
    match c {
        b'0'..=b'9' => (c - b'0').to_string(),
        b'A'..=b'Z' => (c - b'A' + 10).to_string(),
        b'a'..=b'z' => (c - b'a' + 36).to_string(),
        _ => "?".to_string(),
    }
}

/// aria2: `A2-1-36-0-` and random bytes.
fn aria2(id: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(id.strip_prefix(b"A2-")?.get(..9)?).ok()?;
    let parts: Vec<&str> = text.split('-').take(3).collect();
    if parts.len() == 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|c| c.is_ascii_digit()))
    {
        Some(format!("aria2 {}", parts.join(".")))
    } else {
        None
    }
}

fn mainline(id: &[u8]) -> Option<String> {
    // "M4-4-0--" or "M7-10-3-".
    let head = id.get(..8)?;
    if head.first() != Some(&b'M') {
        return None;
    }
    let text = std::str::from_utf8(head.get(1..)?).ok()?;
    let parts: Vec<&str> = text.split('-').filter(|s| !s.is_empty()).collect();
    if parts.len() != 3 || !parts.iter().all(|p| p.bytes().all(|c| c.is_ascii_digit())) {
        return None;
    }
    Some(format!("BitTorrent Mainline {}", parts.join(".")))
}

fn shadow(id: &[u8]) -> Option<String> {
    let head = id.get(..6)?;
    let (&c, rest) = head.split_first()?;
    let name = SHADOW.iter().find(|(k, _)| *k == c)?.1;
    let v = rest.get(..3)?;
    let dashes = rest.get(3..)?;
    if !v.iter().all(u8::is_ascii_alphanumeric) || !dashes.iter().all(|&d| d == b'-') {
        return None;
    }
    let parts: Vec<String> = v.iter().map(|&c| version_char(c)).collect();
    Some(format!("{name} {}", parts.join(".")))
}

fn fixed(id: &[u8]) -> Option<String> {
    const PREFIXES: &[(&[u8], &str)] = &[
        (b"exbc", "BitComet"),
        (b"FUTB", "BitComet (solidlog)"),
        (b"Plus", "Plus!"),
        (b"OP", "Opera"),
        (b"-SP", "BitSpirit"),
        (b"XBT", "XBT"),
    ];
    PREFIXES
        .iter()
        .find(|(p, _)| id.starts_with(p))
        .map(|(_, n)| n.to_string())
}

/// A peer id for display: printable bytes as they are, others as `\xNN`.
pub fn printable(id: &[u8]) -> String {
    let mut s = String::with_capacity(id.len());
    for &b in id {
        if (0x20..0x7f).contains(&b) && b != b'\\' {
            s.push(b as char);
        } else {
            s.push_str(&format!("\\x{b:02x}"));
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_known_conventions() {
        assert_eq!(
            client_name(b"-TR3000-abcdefghijkl").as_deref(),
            Some("Transmission 3.00")
        );
        assert_eq!(
            client_name(b"-TR294Z-abcdefghijkl").as_deref(),
            Some("Transmission 2.94")
        );
        assert_eq!(
            client_name(b"-qB4250-abcdefghijkl").as_deref(),
            Some("qBittorrent 4.2.5")
        );
        assert_eq!(
            client_name(b"-UT355S-abcdefghijkl").as_deref(),
            Some("µTorrent 3.5.5.28")
        );
        assert_eq!(
            client_name(b"-LT1210-abcdefghijkl").as_deref(),
            Some("libtorrent (Rasterbar) 1.2.1")
        );
        assert_eq!(
            client_name(b"M4-4-0--abcdefghijkl").as_deref(),
            Some("BitTorrent Mainline 4.4.0")
        );
        assert_eq!(
            client_name(b"T03I--abcdefghijklmn").as_deref(),
            Some("BitTornado 0.3.18")
        );
        assert_eq!(
            client_name(b"exbc\x00\x38abcdefghijkl").as_deref(),
            Some("BitComet")
        );
        assert_eq!(
            client_name(b"-ZZ1000-abcdefghijkl").as_deref(),
            Some("unknown client ZZ 1.0")
        );
        assert_eq!(
            client_name(b"A2-1-36-0-\x01\x02abcdefgh").as_deref(),
            Some("aria2 1.36.0")
        );
        assert_eq!(client_name(&[0u8; 20]), None);
        assert_eq!(client_name(b"-TR"), None);
    }

    #[test]
    fn printable_escapes_bytes() {
        assert_eq!(printable(b"-TR\x00\\"), "-TR\\x00\\x5c");
    }
}
