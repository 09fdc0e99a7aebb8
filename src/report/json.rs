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

/// `bttrace compare --format json`, written part by part ([`compare_into`]'s order) and equal
/// byte for byte to the whole [`CompareReport`] pretty-printed by serde_json.
///
/// [`compare_into`]: crate::rst::compare::compare_into
/// [`CompareReport`]: crate::rst::compare::CompareReport
pub struct CompareJson<W: Write> {
    w: W,
    /// The list being written (`pairs`, `only_in_client_capture`, `only_in_server_capture`)
    /// and whether it has an item yet.
    list: usize,
    items: bool,
    notes: Vec<String>,
}

const COMPARE_LISTS: [&str; 3] = ["pairs", "only_in_client_capture", "only_in_server_capture"];

impl<W: Write> CompareJson<W> {
    pub fn new(w: W) -> CompareJson<W> {
        CompareJson {
            w,
            list: 0,
            items: false,
            notes: Vec::new(),
        }
    }

    pub fn part(&mut self, part: crate::rst::compare::Part) -> io::Result<()> {
        use crate::rst::compare::Part;
        let json = |e: serde_json::Error| io::Error::other(e);
        match part {
            Part::Head {
                client_capture,
                server_capture,
                clock_offset_ms,
                notes,
            } => {
                write!(
                    self.w,
                    "{{\n  \"client_capture\": {},\n  \"server_capture\": {},\n  \"clock_offset_ms\": {},\n  \"pairs\": [",
                    serde_json::to_string(&client_capture).map_err(json)?,
                    serde_json::to_string(&server_capture).map_err(json)?,
                    serde_json::to_string(&clock_offset_ms).map_err(json)?,
                )?;
                self.notes = notes;
                Ok(())
            }
            Part::Pair(p) => self.item(0, &serde_json::to_string_pretty(&p).map_err(json)?),
            Part::OnlyInClientCapture(c) => self.item(1, &serde_json::to_string(&c).map_err(json)?),
            Part::OnlyInServerCapture(c) => self.item(2, &serde_json::to_string(&c).map_err(json)?),
        }
    }

    /// Moves on to list `to`, closing the ones before.
    fn open(&mut self, to: usize) -> io::Result<()> {
        while self.list < to {
            self.close_list()?;
            self.list += 1;
            write!(self.w, ",\n  \"{}\": [", COMPARE_LISTS[self.list])?;
        }
        Ok(())
    }

    fn close_list(&mut self) -> io::Result<()> {
        if self.items {
            self.w.write_all(b"\n  ]")?;
        } else {
            self.w.write_all(b"]")?;
        }
        self.items = false;
        Ok(())
    }

    /// One item of list `list`, indented as an element of it (pretty-printed JSON has no raw
    /// newline inside a string, so lines can be indented as they are).
    fn item(&mut self, list: usize, text: &str) -> io::Result<()> {
        self.open(list)?;
        self.w.write_all(if self.items { b",\n" } else { b"\n" })?;
        self.items = true;
        for (k, line) in text.lines().enumerate() {
            if k > 0 {
                self.w.write_all(b"\n")?;
            }
            write!(self.w, "    {line}")?;
        }
        Ok(())
    }

    pub fn end(mut self) -> io::Result<W> {
        self.open(COMPARE_LISTS.len() - 1)?;
        self.close_list()?;
        let notes = serde_json::to_string_pretty(&self.notes).map_err(io::Error::other)?;
        write!(self.w, ",\n  \"notes\": ")?;
        for (k, line) in notes.lines().enumerate() {
            if k > 0 {
                write!(self.w, "\n  ")?;
            }
            self.w.write_all(line.as_bytes())?;
        }
        self.w.write_all(b"\n}\n")?;
        self.w.flush()?;
        Ok(self.w)
    }
}
