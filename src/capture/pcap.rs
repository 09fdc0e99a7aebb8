//! Classic libpcap files: a 24-byte file header, then 16-byte record headers each followed by
//! the captured bytes. Microsecond and nanosecond magics, either byte order.
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

/// libpcap accepts records up to this size whatever the snaplen says (its MAXIMUM_SNAPLEN).
const LIBPCAP_MAX_SNAPLEN: u32 = 262_144;

pub(crate) struct PcapState {
    endian: Endian,
    pub nanos: bool,
    pub link: LinkType,
    /// Largest record accepted: the snaplen, at least libpcap's maximum, at most MAX_RECORD.
    max_record: usize,
    /// Bytes of the previous record still to be consumed before the next one is read.
    pending: usize,
    pub header_notes: Vec<Note>,
    /// Invalid sub-second fields seen (microseconds >= 10^6 or nanoseconds >= 10^9).
    bad_fraction: u64,
}

impl PcapState {
    pub(crate) fn read_header(src: &mut ByteSource) -> Result<PcapState, CaptureError> {
        let h = src.fill(24)?;
        if h.len() < 24 {
            return Err(CaptureError::ShortHeader("pcap"));
        }
        let (endian, nanos) = match super::super::bytes::array::<4>(h, 0) {
            Some([0xd4, 0xc3, 0xb2, 0xa1]) => (Endian::Little, false),
            Some([0xa1, 0xb2, 0xc3, 0xd4]) => (Endian::Big, false),
            Some([0x4d, 0x3c, 0xb2, 0xa1]) => (Endian::Little, true),
            Some([0xa1, 0xb2, 0x3c, 0x4d]) => (Endian::Big, true),
            _ => return Err(CaptureError::NotACapture("bad pcap magic".into())),
        };
        let field = |at| endian.u32(h, at).unwrap_or(0);
        let major = endian.u16(h, 4).unwrap_or(0);
        let minor = endian.u16(h, 6).unwrap_or(0);
        if major != 2 {
            return Err(CaptureError::Version {
                format: "pcap",
                major,
                minor,
            });
        }
        let mut header_notes = Vec::new();
        if minor != 4 && minor != 2 && minor != 3 {
            header_notes.push(Note {
                frame: None,
                offset: Some(6),
                message: format!("pcap minor version {minor} is unknown; reading as 2.4"),
            });
        }
        let snaplen = field(16);
        let linkfield = field(20);
        // Bits 16-25 are reserved; bits 26-31 carry FCS information.
        if linkfield & 0x03ff_0000 != 0 {
            header_notes.push(Note {
                frame: None,
                offset: Some(20),
                message: format!(
                    "link-type field 0x{linkfield:08x} has reserved bits set; using link type {}",
                    linkfield & 0xffff
                ),
            });
        }
        if snaplen == 0 {
            header_notes.push(Note {
                frame: None,
                offset: Some(16),
                message: "snaplen 0 in the file header; record lengths are trusted up to 256 KiB"
                    .into(),
            });
        }
        let max_record = (snaplen.max(LIBPCAP_MAX_SNAPLEN) as usize).min(MAX_RECORD);
        src.consume(24);
        Ok(PcapState {
            endian,
            nanos,
            link: LinkType(linkfield & 0xffff),
            max_record,
            pending: 0,
            header_notes,
            bad_fraction: 0,
        })
    }

    pub(crate) fn next_record(&mut self, src: &mut ByteSource, index: u64) -> io::Result<Step> {
        src.consume(self.pending);
        self.pending = 0;
        let offset = src.offset();
        let h = src.fill(16)?;
        if h.is_empty() {
            return Ok(Step::End(self.fraction_note()));
        }
        if h.len() < 16 {
            return Ok(Step::End(Some(Note {
                frame: Some(index),
                offset: Some(offset),
                message: format!(
                    "file ends inside a record header ({} of 16 bytes); analysed the {} frames before it",
                    h.len(),
                    index - 1
                ),
            })));
        }
        let e = self.endian;
        let secs = e.u32(h, 0).unwrap_or(0);
        let frac = e.u32(h, 4).unwrap_or(0);
        let caplen = e.u32(h, 8).unwrap_or(0);
        let wire_len = e.u32(h, 12).unwrap_or(0);
        if caplen as usize > self.max_record {
            return Ok(Step::End(Some(Note {
                frame: Some(index),
                offset: Some(offset),
                message: format!(
                    "record claims {caplen} captured bytes, more than the {} a record can hold: \
                     the file is corrupt from here; analysed the {} frames before it",
                    self.max_record,
                    index - 1
                ),
            })));
        }
        let need = 16 + caplen as usize;
        let have = src.fill(need)?.len();
        if have < need {
            return Ok(Step::End(Some(Note {
                frame: Some(index),
                offset: Some(offset),
                message: format!(
                    "last record cut short: {} of its {caplen} bytes are in the file; analysed the {} complete frames before it",
                    have - 16,
                    index - 1
                ),
            })));
        }
        let limit = if self.nanos { 1_000_000_000 } else { 1_000_000 };
        if frac >= limit {
            self.bad_fraction += 1;
        }
        let nanos = if self.nanos {
            i64::from(frac)
        } else {
            i64::from(frac) * 1000
        };
        self.pending = need;
        Ok(Step::Frame(Record {
            data_start: 16,
            caplen: caplen as usize,
            // A wire length below the captured length is a writer's bug; the bytes are real.
            wire_len: wire_len.max(caplen),
            ts: Timestamp::from_secs_nanos(i64::from(secs), nanos),
            link: self.link,
            offset,
        }))
    }

    fn fraction_note(&self) -> Option<Note> {
        (self.bad_fraction > 0).then(|| Note {
            frame: None,
            offset: None,
            message: format!(
                "{} records have a sub-second timestamp field out of range; used as is",
                self.bad_fraction
            ),
        })
    }
}
