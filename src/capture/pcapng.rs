//! pcapng files: a sequence of blocks, each `type, length, body, length`. A Section Header
//! Block starts each section and fixes its byte order; Interface Description Blocks give each
//! interface its link type, snaplen and timestamp resolution; packets come in Enhanced,
//! Simple or (obsolete) Packet Blocks. Other blocks are skipped by their length.
//!
//! Like Wireshark, a block whose lengths disagree or overrun ends the input (nothing after it
//! can be framed reliably); an option that overruns its block is noted and the rest of that
//! block's options ignored.
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::io;

use super::source::ByteSource;
use super::{CaptureError, LinkType, MAX_RECORD, Note, Record, Step, Timestamp};
use crate::bytes::Endian;

const SHB: u32 = 0x0A0D_0D0A;
const IDB: u32 = 1;
const PB: u32 = 2;
const SPB: u32 = 3;
const EPB: u32 = 6;
const BOM: u32 = 0x1A2B_3C4D;

/// Timestamp units of an interface: 10^-k or 2^-k seconds.
#[derive(Debug, Clone, Copy, PartialEq)]
enum TsRes {
    Pow10(u8),
    Pow2(u8),
}

#[derive(Debug, Clone)]
struct Iface {
    link: LinkType,
    snaplen: u32,
    res: TsRes,
    /// if_tsoffset, seconds added to every timestamp.
    offset_secs: i64,
}

pub(crate) struct NgState {
    endian: Endian,
    ifaces: Vec<Iface>,
    /// Every link type seen across sections, in order of first appearance.
    links: Vec<LinkType>,
    pub link_types_changed: bool,
    /// Bytes of the previous block still to be consumed.
    pending: usize,
    /// Inside a section whose version bttrace cannot read: skip blocks until the next SHB.
    skipping: bool,
    sections: u32,
    ts_overflow: bool,
}

impl NgState {
    pub(crate) fn new() -> NgState {
        NgState {
            endian: Endian::Little,
            ifaces: Vec::new(),
            links: Vec::new(),
            link_types_changed: false,
            pending: 0,
            skipping: false,
            sections: 0,
            ts_overflow: false,
        }
    }

    pub(crate) fn link_types_seen(&self) -> Vec<LinkType> {
        self.links.clone()
    }

    /// Reads the file's first Section Header Block; any problem there is fatal.
    pub(crate) fn read_first_section(
        &mut self,
        src: &mut ByteSource,
        notes: &mut Vec<Note>,
    ) -> Result<(), CaptureError> {
        match self.read_shb(src, notes)? {
            ShbOutcome::Ok => Ok(()),
            ShbOutcome::Version(major, minor) => Err(CaptureError::Version {
                format: "pcapng",
                major,
                minor,
            }),
            ShbOutcome::Bad(message) => Err(CaptureError::BadHeader { offset: 0, message }),
            ShbOutcome::Short => Err(CaptureError::ShortHeader("pcapng")),
        }
    }

    fn read_shb(&mut self, src: &mut ByteSource, notes: &mut Vec<Note>) -> io::Result<ShbOutcome> {
        let offset = src.offset();
        let h = src.fill(12)?;
        if h.len() < 12 {
            return Ok(ShbOutcome::Short);
        }
        let endian = match Endian::Little.u32(h, 8) {
            Some(BOM) => Endian::Little,
            _ if Endian::Big.u32(h, 8) == Some(BOM) => Endian::Big,
            _ => {
                return Ok(ShbOutcome::Bad(
                    "section header has no valid byte-order mark".into(),
                ));
            }
        };
        let len = endian.u32(h, 4).unwrap_or(0) as usize;
        if len < 28 || len % 4 != 0 || len > MAX_RECORD {
            return Ok(ShbOutcome::Bad(format!(
                "section header length {len} is invalid"
            )));
        }
        let b = src.fill(len)?;
        if b.len() < len {
            return Ok(ShbOutcome::Short);
        }
        if endian.u32(b, len - 4) != Some(len as u32) {
            return Ok(ShbOutcome::Bad(
                "section header's trailing length differs from its leading length".into(),
            ));
        }
        let major = endian.u16(b, 12).unwrap_or(0);
        let minor = endian.u16(b, 14).unwrap_or(0);
        let opts_ok = check_options(b.get(24..len - 4).unwrap_or(&[]), endian);
        self.endian = endian;
        self.ifaces.clear();
        self.sections += 1;
        self.pending = len;
        if !opts_ok {
            notes.push(Note {
                frame: None,
                offset: Some(offset),
                message: "section header option overruns its block; options ignored".into(),
            });
        }
        // Versions 1.0 and 1.2 exist in the wild (1.2 from an old writer); others are unknown.
        if major != 1 || (minor != 0 && minor != 2) {
            self.skipping = true;
            return Ok(ShbOutcome::Version(major, minor));
        }
        self.skipping = false;
        Ok(ShbOutcome::Ok)
    }

    pub(crate) fn next_packet(
        &mut self,
        src: &mut ByteSource,
        index: u64,
        notes: &mut Vec<Note>,
    ) -> io::Result<Step> {
        self.link_types_changed = false;
        loop {
            src.consume(self.pending);
            self.pending = 0;
            let offset = src.offset();
            let end_note = |message: String| {
                Step::End(Some(Note {
                    frame: Some(index),
                    offset: Some(offset),
                    message,
                }))
            };
            let h = src.fill(8)?;
            if h.is_empty() {
                return Ok(self.finish());
            }
            if h.len() < 8 {
                return Ok(end_note(format!(
                    "file ends inside a block header; analysed the {} frames before it",
                    index - 1
                )));
            }
            let e = self.endian;
            let btype = e.u32(h, 0).unwrap_or(0);
            if btype == SHB {
                match self.read_shb(src, notes)? {
                    ShbOutcome::Ok => continue,
                    ShbOutcome::Version(major, minor) => {
                        notes.push(Note {
                            frame: None,
                            offset: Some(offset),
                            message: format!(
                                "section with unsupported pcapng version {major}.{minor} skipped"
                            ),
                        });
                        continue;
                    }
                    ShbOutcome::Bad(m) => {
                        return Ok(end_note(format!(
                            "{m}; analysed the {} frames before it",
                            index - 1
                        )));
                    }
                    ShbOutcome::Short => {
                        return Ok(end_note(format!(
                            "file ends inside a section header; analysed the {} frames before it",
                            index - 1
                        )));
                    }
                }
            }
            let len = e.u32(h, 4).unwrap_or(0) as usize;
            if len < 12 || len % 4 != 0 || len > MAX_RECORD {
                return Ok(end_note(format!(
                    "block of type {btype} has invalid length {len}: the file is corrupt from here; analysed the {} frames before it",
                    index - 1
                )));
            }
            let avail = src.fill(len)?;
            if avail.len() < len {
                return Ok(end_note(format!(
                    "last block cut short: {} of its {len} bytes are in the file; analysed the {} frames before it",
                    avail.len(),
                    index - 1
                )));
            }
            // Only this block's bytes: fields never read into the next block.
            let b = avail.get(..len).unwrap_or(avail);
            if e.u32(b, len - 4) != Some(len as u32) {
                return Ok(end_note(format!(
                    "block of type {btype}: trailing length {} differs from leading length {len}: the file is corrupt from here; analysed the {} frames before it",
                    e.u32(b, len - 4).unwrap_or(0),
                    index - 1
                )));
            }
            self.pending = len;
            if self.skipping {
                continue;
            }
            let idb_min = Block::InterfaceDescription.min_len();
            let packet = match btype {
                IDB if len < idb_min => Err(BlockError::Short {
                    block: Block::InterfaceDescription,
                    len,
                    min: idb_min,
                }),
                IDB => {
                    self.read_idb(b, len, offset, notes);
                    continue;
                }
                EPB => self.parse_timed(b, len, Block::EnhancedPacket),
                SPB => self.parse_spb(b, len),
                PB => self.parse_timed(b, len, Block::Packet),
                _ => continue,
            };
            return Ok(match packet {
                Ok(mut rec) => {
                    rec.offset = offset;
                    Step::Frame(rec)
                }
                Err(m) => end_note(format!(
                    "{m}: the file is corrupt from here; analysed the {} frames before it",
                    index - 1
                )),
            });
        }
    }

    fn finish(&mut self) -> Step {
        if self.ts_overflow {
            self.ts_overflow = false;
            return Step::End(Some(Note {
                frame: None,
                offset: None,
                message: "some timestamps were out of range (before 1677 or after 2262, with \
                          the interface's if_tsoffset) and have been clamped to the nearest \
                          representable time"
                    .into(),
            }));
        }
        Step::End(None)
    }

    fn read_idb(&mut self, b: &[u8], len: usize, offset: u64, notes: &mut Vec<Note>) {
        let e = self.endian;
        let link = LinkType(u32::from(e.u16(b, 8).unwrap_or(0)));
        let snaplen = e.u32(b, 12).unwrap_or(0);
        let mut iface = Iface {
            link,
            snaplen,
            res: TsRes::Pow10(6),
            offset_secs: 0,
        };
        let opts = b.get(16..len - 4).unwrap_or(&[]);
        let ok = walk_options(opts, e, |code, val| match code {
            9 => {
                if let Some(&r) = val.first() {
                    iface.res = if r & 0x80 != 0 {
                        TsRes::Pow2(r & 0x7f)
                    } else {
                        TsRes::Pow10(r)
                    };
                }
            }
            14 => {
                if let Some(s) = e.u64(val, 0) {
                    iface.offset_secs = s as i64;
                }
            }
            _ => {}
        });
        if !ok {
            notes.push(Note {
                frame: None,
                offset: Some(offset),
                message: format!(
                    "interface {} description: an option overruns its block; later options ignored",
                    self.ifaces.len()
                ),
            });
        }
        if !self.links.contains(&link) {
            self.links.push(link);
            self.link_types_changed = true;
        }
        self.ifaces.push(iface);
    }

    fn iface(&self, id: u32) -> Result<&Iface, BlockError> {
        self.ifaces.get(id as usize).ok_or(BlockError::NoInterface {
            id,
            described: self.ifaces.len(),
        })
    }

    /// An Enhanced Packet Block or an (obsolete) Packet Block: the same record but for the
    /// interface id, 32 bits in an EPB and 16 bits (then a drops count) in a PB.
    fn parse_timed(&mut self, b: &[u8], len: usize, block: Block) -> Result<Record, BlockError> {
        let min = block.min_len();
        if len < min {
            return Err(BlockError::Short { block, len, min });
        }
        let e = self.endian;
        let field = |at| e.u32(b, at).ok_or(BlockError::Truncated(block));
        let if_id = match block {
            Block::Packet => u32::from(e.u16(b, 8).ok_or(BlockError::Truncated(block))?),
            _ => field(8)?,
        };
        let ts_units = (u64::from(field(12)?) << 32) | u64::from(field(16)?);
        let caplen = field(20)? as usize;
        let wire_len = field(24)?;
        if 28 + caplen > len - 4 {
            return Err(BlockError::Overrun { block, len, caplen });
        }
        let iface = self.iface(if_id)?.clone();
        Ok(Record {
            data_start: 28,
            caplen,
            wire_len: wire_len.max(caplen as u32),
            ts: self.timestamp(&iface, ts_units),
            link: iface.link,
            offset: 0,
        })
    }

    fn parse_spb(&mut self, b: &[u8], len: usize) -> Result<Record, BlockError> {
        let block = Block::SimplePacket;
        let min = block.min_len();
        if len < min {
            return Err(BlockError::Short { block, len, min });
        }
        let iface = self.iface(0)?.clone();
        let wire_len = self.endian.u32(b, 8).ok_or(BlockError::Truncated(block))?;
        let mut caplen = (wire_len as usize).min(len.saturating_sub(16));
        if iface.snaplen != 0 {
            caplen = caplen.min(iface.snaplen as usize);
        }
        Ok(Record {
            data_start: 12,
            caplen,
            wire_len,
            // Simple packet blocks carry no timestamp.
            ts: Timestamp(0),
            link: iface.link,
            offset: 0,
        })
    }

    fn timestamp(&mut self, iface: &Iface, units: u64) -> Timestamp {
        let nanos: Option<i128> = match iface.res {
            TsRes::Pow10(k) if k <= 9 => 10u64
                .checked_pow(u32::from(9 - k))
                .map(|m| i128::from(units) * i128::from(m)),
            TsRes::Pow10(k) => 10u128
                .checked_pow(u32::from(k - 9))
                .map(|d| (u128::from(units) / d) as i128),
            TsRes::Pow2(k) if k < 127 => Some(((u128::from(units) * 1_000_000_000) >> k) as i128),
            TsRes::Pow2(_) => None,
        };
        let total = nanos.map(|n| n + i128::from(iface.offset_secs) * 1_000_000_000);
        match total.map(|t| (i64::try_from(t), t)) {
            Some((Ok(t), _)) => Timestamp(t),
            // Out of range: the nearest representable time, on the side the value lies
            // (an if_tsoffset of -2^63 s is long before 1677, not after 2262).
            Some((Err(_), t)) => {
                self.ts_overflow = true;
                Timestamp(if t < 0 { i64::MIN } else { i64::MAX })
            }
            None => {
                self.ts_overflow = true;
                Timestamp(i64::MAX)
            }
        }
    }
}

/// The blocks whose content is parsed beyond their lengths.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Block {
    InterfaceDescription,
    EnhancedPacket,
    SimplePacket,
    /// The obsolete Packet Block.
    Packet,
}

impl Block {
    fn name(self) -> &'static str {
        match self {
            Block::InterfaceDescription => "interface description block",
            Block::EnhancedPacket => "enhanced packet block",
            Block::SimplePacket => "simple packet block",
            Block::Packet => "packet block",
        }
    }

    /// The smallest length a block of this type may declare and still be read (an EPB's
    /// fields are checked one by one instead, as they always were).
    fn min_len(self) -> usize {
        match self {
            Block::InterfaceDescription => 20,
            Block::EnhancedPacket => 12,
            Block::SimplePacket => 16,
            Block::Packet => 32,
        }
    }
}

impl std::fmt::Display for Block {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a block whose lengths agree still cannot be read; the file is corrupt from there.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
enum BlockError {
    #[error("{block} of {len} bytes is shorter than its {min}-byte minimum")]
    Short {
        block: Block,
        len: usize,
        min: usize,
    },
    #[error("{0} too short")]
    Truncated(Block),
    #[error("{block} of {len} bytes cannot hold its {caplen} captured bytes")]
    Overrun {
        block: Block,
        len: usize,
        caplen: usize,
    },
    #[error("packet names interface {id}, but only {described} interfaces are described")]
    NoInterface { id: u32, described: usize },
}

enum ShbOutcome {
    Ok,
    Version(u16, u16),
    Bad(String),
    Short,
}

/// Walks `code, length, value (padded to 4)` options; returns false if one overruns.
fn walk_options(mut b: &[u8], e: Endian, mut each: impl FnMut(u16, &[u8])) -> bool {
    while b.len() >= 4 {
        let code = e.u16(b, 0).unwrap_or(0);
        let len = usize::from(e.u16(b, 2).unwrap_or(0));
        if code == 0 {
            return true;
        }
        let padded = (len + 3) & !3;
        let Some(val) = b.get(4..4 + len) else {
            return false;
        };
        each(code, val);
        b = b.get(4 + padded..).unwrap_or(&[]);
    }
    true
}

fn check_options(b: &[u8], e: Endian) -> bool {
    walk_options(b, e, |_, _| {})
}
