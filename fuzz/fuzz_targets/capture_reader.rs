//! Bytes → `CaptureReader`, every frame read, every note and error rendered.
//!
//! Properties checked beyond "no panic, no hang, bounded memory":
//! - errors and notes are one line;
//! - frames are numbered 1, 2, 3, ... and never carry more bytes than their wire length
//!   (the wire decoder relies on it) or than the reader may buffer;
//! - once the reader says "end", it keeps saying so.
#![no_main]

use std::hint::black_box;

use bttrace::capture::{CaptureReader, MAX_RECORD};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut reader = match CaptureReader::from_bytes(data.to_vec()) {
        Ok(r) => r,
        Err(e) => {
            let msg = e.to_string();
            assert!(!msg.contains('\n'), "multi-line error: {msg:?}");
            return;
        }
    };
    let info = reader.info().clone();
    black_box(format!("{} {:?}", info.format, info.link_types));
    let mut n = 0u64;
    loop {
        match reader.next_frame() {
            Ok(Some(f)) => {
                n += 1;
                assert_eq!(f.index, n, "frames must be numbered 1, 2, 3, ...");
                assert!(
                    f.data.len() <= f.wire_len as usize,
                    "frame {} has {} captured bytes but wire length {}",
                    f.index,
                    f.data.len(),
                    f.wire_len
                );
                assert!(f.data.len() <= MAX_RECORD);
                assert!(f.offset <= data.len() as u64 || info.gzip);
                black_box((f.ts, f.link.name(), f.data.first()));
            }
            Ok(None) => break,
            Err(e) => {
                // Only the file system can fail; an in-memory cursor never does.
                panic!("I/O error from an in-memory capture: {e}");
            }
        }
    }
    assert_eq!(reader.frames_read(), n);
    assert!(
        matches!(reader.next_frame(), Ok(None)),
        "reader restarted after its end"
    );
    for note in reader.notes() {
        let s = note.to_string();
        assert!(!s.contains('\n'), "multi-line note: {s:?}");
    }
    black_box(reader.info().link_types.len());
});
