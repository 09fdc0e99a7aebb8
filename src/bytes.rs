//! Checked reads of integers from untrusted bytes.
//!
//! Every read returns `None` when the bytes are not there, so decoders never index or panic;
//! they turn `None` into the "need more bytes" error of their layer.

/// Byte order of a capture file's own headers (network protocols are always big-endian).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endian {
    Little,
    Big,
}

#[inline]
pub(crate) fn array<const N: usize>(b: &[u8], at: usize) -> Option<[u8; N]> {
    b.get(at..)?.first_chunk::<N>().copied()
}

#[inline]
pub(crate) fn u8_at(b: &[u8], at: usize) -> Option<u8> {
    b.get(at).copied()
}

#[inline]
pub(crate) fn be16(b: &[u8], at: usize) -> Option<u16> {
    array::<2>(b, at).map(u16::from_be_bytes)
}

#[inline]
pub(crate) fn be32(b: &[u8], at: usize) -> Option<u32> {
    array::<4>(b, at).map(u32::from_be_bytes)
}

impl Endian {
    #[inline]
    pub(crate) fn u16(self, b: &[u8], at: usize) -> Option<u16> {
        let a = array::<2>(b, at)?;
        Some(match self {
            Endian::Little => u16::from_le_bytes(a),
            Endian::Big => u16::from_be_bytes(a),
        })
    }

    #[inline]
    pub(crate) fn u32(self, b: &[u8], at: usize) -> Option<u32> {
        let a = array::<4>(b, at)?;
        Some(match self {
            Endian::Little => u32::from_le_bytes(a),
            Endian::Big => u32::from_be_bytes(a),
        })
    }

    #[inline]
    pub(crate) fn u64(self, b: &[u8], at: usize) -> Option<u64> {
        let a = array::<8>(b, at)?;
        Some(match self {
            Endian::Little => u64::from_le_bytes(a),
            Endian::Big => u64::from_be_bytes(a),
        })
    }
}

/// The first bytes of a file as hex and printable text, for "not a capture" messages.
pub(crate) fn describe_prefix(b: &[u8]) -> String {
    let head = b.get(..b.len().min(8)).unwrap_or(b);
    if head.is_empty() {
        return "the file is empty".to_string();
    }
    let hex: Vec<String> = head.iter().map(|x| format!("{x:02x}")).collect();
    let text: String = head
        .iter()
        .map(|&c| {
            if (0x20..0x7f).contains(&c) {
                c as char
            } else {
                '.'
            }
        })
        .collect();
    format!("first bytes {} \"{}\"", hex.join(" "), text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_stop_at_the_end() {
        let b = [1u8, 2, 3, 4, 5];
        assert_eq!(be16(&b, 3), Some(0x0405));
        assert_eq!(be16(&b, 4), None);
        assert_eq!(be32(&b, 2), None);
        assert_eq!(Endian::Little.u32(&b, 1), Some(0x0504_0302));
        assert_eq!(Endian::Big.u64(&b, 0), None);
        assert_eq!(be16(&b, usize::MAX), None);
    }

    #[test]
    fn prefix_description_shows_hex_and_text() {
        assert_eq!(
            describe_prefix(b"GET / HTTP/1.1"),
            "first bytes 47 45 54 20 2f 20 48 54 \"GET / HT\""
        );
        assert_eq!(describe_prefix(b""), "the file is empty");
    }
}
