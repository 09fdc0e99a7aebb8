//! The output contract: `{"captures": [capture, ...]}`, written one capture at a time so a
//! batch of any size never has to be held in memory.

use std::io::{self, Write};

use crate::model::CaptureReport;

pub struct JsonWriter<W: Write> {
    w: W,
    first: bool,
}

impl<W: Write> JsonWriter<W> {
    pub fn begin(mut w: W) -> io::Result<JsonWriter<W>> {
        w.write_all(b"{\"captures\":[")?;
        Ok(JsonWriter { w, first: true })
    }

    pub fn capture(&mut self, r: &CaptureReport) -> io::Result<()> {
        if !self.first {
            self.w.write_all(b",")?;
        }
        self.first = false;
        self.w.write_all(b"\n")?;
        serde_json::to_writer(&mut self.w, r).map_err(io::Error::other)
    }

    /// Sends what was written so far on (each capture as it comes, in a long batch).
    pub fn flush(&mut self) -> io::Result<()> {
        self.w.flush()
    }

    pub fn end(mut self) -> io::Result<W> {
        self.w.write_all(b"\n]}\n")?;
        self.w.flush()?;
        Ok(self.w)
    }
}
