//! Writers: pure functions from result records to bytes, into any `io::Write`.
//!
//! - [`text`]: the human report, one block per capture;
//! - [`json`]: the output contract, `{"captures": [...]}`, streamed one capture at a time;
//! - [`csv`]: flat tables (per capture, test, flow, RST) with a `capture` column;
//! - [`parquet`]: the same tables typed, as Parquet files (the `parquet` feature);
//! - [`tables`]: the captures and tests tables read back, for `bttrace report`;
//! - [`weekly`]: the study's per-ISP, per-weekday tables for many captures;
//! - [`html`]: a capture's self-contained HTML page (tables and charts);
//! - [`view`]: what a capture's report says as sentences and rows, shared by text and HTML.

pub mod csv;
pub mod html;
pub mod json;
#[cfg(feature = "parquet")]
pub mod parquet;
pub mod schema;
pub mod tables;
pub mod text;
pub mod view;
pub mod weekly;

/// A name (a file name, an error naming one) made safe to print on one line: control
/// characters (newline, carriage return, ESC, DEL, the C1 range) and the bidirectional
/// overrides a terminal would act on become `\xNN` / `\u{NNNN}` escapes, as peer ids are
/// shown; everything else, non-ASCII letters included, stays as it is.
pub fn escape_controls(s: &str) -> std::borrow::Cow<'_, str> {
    let risky =
        |c: char| c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
    if !s.chars().any(risky) {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            c if risky(c) && (c as u32) < 0x100 => out.push_str(&format!("\\x{:02x}", c as u32)),
            c if risky(c) => out.push_str(&format!("\\u{{{:04x}}}", c as u32)),
            c => out.push(c),
        }
    }
    std::borrow::Cow::Owned(out)
}

/// Formats a byte count for people: `950 B`, `12.3 kB`, `4.56 MB` (SI units, as Wireshark).
pub fn human_bytes(n: u64) -> String {
    if n < 1000 {
        return format!("{n} B");
    }
    scaled(n as f64 / 1000.0, &["kB", "MB", "GB", "TB", "PB"])
}

/// Formats a rate in bits per second: `850 bit/s`, `12.3 Mbit/s`.
pub fn human_rate(bps: f64) -> String {
    if !bps.is_finite() || bps < 1000.0 {
        return format!("{:.0} bit/s", bps.max(0.0));
    }
    scaled(bps / 1000.0, &["kbit/s", "Mbit/s", "Gbit/s", "Tbit/s"])
}

/// `v` in the first of `units`, stepped up by thousands, with three significant digits.
fn scaled(mut v: f64, units: &[&str]) -> String {
    let mut unit = units.first().copied().unwrap_or("");
    for u in units.iter().skip(1) {
        if v < 1000.0 {
            break;
        }
        v /= 1000.0;
        unit = u;
    }
    if v < 10.0 {
        format!("{v:.2} {unit}")
    } else if v < 100.0 {
        format!("{v:.1} {unit}")
    } else {
        format!("{v:.0} {unit}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_controls_leaves_names_alone_and_escapes_what_a_terminal_acts_on() {
        assert_eq!(
            escape_controls("caps/bt_1.2.3.4_h\u{e9}te_1.dump"),
            "caps/bt_1.2.3.4_h\u{e9}te_1.dump"
        );
        assert_eq!(
            escape_controls("a\nb\u{1b}[2J\r\u{7f}"),
            "a\\x0ab\\x1b[2J\\x0d\\x7f"
        );
        assert_eq!(escape_controls("x\u{202e}y\u{85}"), "x\\u{202e}y\\x85");
    }

    #[test]
    fn human_units() {
        assert_eq!(human_bytes(999), "999 B");
        assert_eq!(human_bytes(1_000), "1.00 kB");
        assert_eq!(human_bytes(12_345), "12.3 kB");
        assert_eq!(human_bytes(1_567_174_546), "1.57 GB");
        assert_eq!(human_rate(850.0), "850 bit/s");
        assert_eq!(human_rate(12_300_000.0), "12.3 Mbit/s");
        assert_eq!(human_rate(f64::NAN), "0 bit/s");
    }
}
