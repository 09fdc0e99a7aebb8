//! A bounded bencode reader (BEP 3) for the extended handshake's dictionary (BEP 10).
//!
//! The input is at most a few KiB (the caller caps what it collects); nesting is limited to
//! [`MAX_DEPTH`] and the number of items to [`MAX_ITEMS`], so hostile input cannot recurse or
//! allocate without bound. Anything malformed is `None`, never a panic.
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::BTreeMap;

pub const MAX_DEPTH: usize = 8;
pub const MAX_ITEMS: usize = 512;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value<'a> {
    Int(i64),
    Bytes(&'a [u8]),
    List(Vec<Value<'a>>),
    Dict(BTreeMap<&'a [u8], Value<'a>>),
}

impl<'a> Value<'a> {
    pub fn get(&self, key: &str) -> Option<&Value<'a>> {
        match self {
            Value::Dict(d) => d.get(key.as_bytes()),
            _ => None,
        }
    }
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }
    pub fn as_bytes(&self) -> Option<&'a [u8]> {
        match self {
            Value::Bytes(b) => Some(b),
            _ => None,
        }
    }
}

/// Decodes one value from the start of `input`; returns it and the bytes it used.
pub fn decode(input: &[u8]) -> Option<(Value<'_>, usize)> {
    let mut p = Parser {
        b: input,
        pos: 0,
        items: 0,
    };
    let v = p.value(0)?;
    Some((v, p.pos))
}

struct Parser<'a> {
    b: &'a [u8],
    pos: usize,
    items: usize,
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.pos).copied()
    }

    fn value(&mut self, depth: usize) -> Option<Value<'a>> {
        if depth > MAX_DEPTH {
            return None;
        }
        self.items += 1;
        if self.items > MAX_ITEMS {
            return None;
        }
        match self.peek()? {
            b'i' => {
                self.pos += 1;
                let n = self.number(b'e')?;
                Some(Value::Int(n))
            }
            b'l' => {
                self.pos += 1;
                let mut items = Vec::new();
                while self.peek()? != b'e' {
                    items.push(self.value(depth + 1)?);
                }
                self.pos += 1;
                Some(Value::List(items))
            }
            b'd' => {
                self.pos += 1;
                let mut map = BTreeMap::new();
                while self.peek()? != b'e' {
                    let key = self.bytes()?;
                    let v = self.value(depth + 1)?;
                    map.insert(key, v);
                }
                self.pos += 1;
                Some(Value::Dict(map))
            }
            b'0'..=b'9' => self.bytes().map(Value::Bytes),
            _ => None,
        }
    }

    /// Digits (with an optional minus) up to `end`, consumed.
    fn number(&mut self, end: u8) -> Option<i64> {
        let rest = self.b.get(self.pos..)?;
        let len = rest.iter().position(|&c| c == end)?;
        let text = std::str::from_utf8(rest.get(..len)?).ok()?;
        if text.is_empty() || text.len() > 20 {
            return None;
        }
        let n = text.parse::<i64>().ok()?;
        self.pos += len + 1;
        Some(n)
    }

    fn bytes(&mut self) -> Option<&'a [u8]> {
        let len = usize::try_from(self.number(b':')?).ok()?;
        let s = self.b.get(self.pos..self.pos.checked_add(len)?)?;
        self.pos += len;
        Some(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_an_extended_handshake() {
        let raw =
            b"d1:md11:ut_metadatai3e6:ut_pexi1ee1:pi51413e4:reqqi512e1:v17:Transmission 3.00e";
        let (v, used) = decode(raw).unwrap();
        assert_eq!(used, raw.len());
        assert_eq!(v.get("p").and_then(Value::as_int), Some(51413));
        assert_eq!(
            v.get("v").and_then(Value::as_bytes),
            Some(&b"Transmission 3.00"[..])
        );
        let m = v.get("m").unwrap();
        assert_eq!(m.get("ut_pex").and_then(Value::as_int), Some(1));
    }

    #[test]
    fn malformed_and_hostile_input_is_refused() {
        for bad in [
            &b"d1:pi5e"[..],
            b"i-e",
            b"5:abc",
            b"99999999999999999999999:x",
            b"x",
            b"",
            b"d3:abci1e",
        ] {
            assert_eq!(decode(bad), None, "{bad:?}");
        }
        let deep: Vec<u8> = std::iter::repeat_n(b'l', 100)
            .chain(std::iter::repeat_n(b'e', 100))
            .collect();
        assert_eq!(decode(&deep), None);
        let wide: Vec<u8> = [&b"l"[..], &b"i1e".repeat(1000), b"e"].concat();
        assert_eq!(decode(&wide), None);
    }
}
