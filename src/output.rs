//! Where the command's words and results go, and what happens when they cannot get there.
//!
//! - [`say`]: one line on standard error, names escaped ([`escape_controls`]); a standard
//!   error that cannot be written (`2>/dev/full`, a closed pipe) loses the line and nothing
//!   else: the batch and its output go on, and the exit code still tells.
//! - [`Named`]: a writer whose errors name what it writes to (`cannot write standard output:
//!   Broken pipe`), so the one error line says which output failed.
//! - [`reader_gone`]: standard output's reader went away (`bttrace analyze ... | head`): the
//!   run ends quietly, as other command-line tools do, with the exit code the captures gave.
//! - [`stdout_open`]: a standard output that was closed (`>&-`) is an error before any work,
//!   not a run that says it succeeded while its output went nowhere (the standard library
//!   quietly discards writes to a closed descriptor 1).

use std::fmt;
use std::io::{self, Write};

use crate::report::escape_controls;

/// Writes `bttrace: <msg>` as one line on standard error, escaping control characters in it.
/// Never fails and never panics: a standard error that cannot be written is not worth
/// stopping for.
pub fn say(msg: impl fmt::Display) {
    let line = msg.to_string();
    let mut err = io::stderr().lock();
    let _ = writeln!(err, "bttrace: {}", escape_controls(&line));
}

/// Like [`say`], for lines that continue a message (indented, without the `bttrace:` prefix).
pub fn say_more(msg: impl fmt::Display) {
    let line = msg.to_string();
    let mut err = io::stderr().lock();
    let _ = writeln!(err, "  {}", escape_controls(&line));
}

/// A writer whose errors say which output they concern.
pub struct Named<W> {
    inner: W,
    name: String,
}

impl<W: Write> Named<W> {
    pub fn new(inner: W, name: impl Into<String>) -> Named<W> {
        Named {
            inner,
            name: name.into(),
        }
    }

    fn named(&self, e: io::Error) -> io::Error {
        if e.get_ref().is_some_and(|x| x.is::<WriteError>()) {
            return e;
        }
        io::Error::new(
            e.kind(),
            WriteError {
                output: self.name.clone(),
                source: e,
            },
        )
    }

    pub fn into_inner(self) -> W {
        self.inner
    }
}

impl<W: Write> Write for Named<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.inner.write(buf).map_err(|e| self.named(e))
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.inner.write_all(buf).map_err(|e| self.named(e))
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush().map_err(|e| self.named(e))
    }
}

/// Name [`stdout`] gives its errors.
pub const STDOUT: &str = "standard output";

/// A write error of a [`Named`] writer: what it wrote to, and the error.
#[derive(Debug)]
pub struct WriteError {
    pub output: String,
    pub source: io::Error,
}

impl fmt::Display for WriteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "cannot write {}: {}",
            escape_controls(&self.output),
            self.source
        )
    }
}

impl std::error::Error for WriteError {}

/// Whether `e` says standard output's reader has gone (a broken pipe on it).
pub fn reader_gone(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::BrokenPipe
        && e.get_ref()
            .and_then(|x| x.downcast_ref::<WriteError>())
            .is_some_and(|w| w.output == STDOUT)
}

/// Standard output, buffered, its errors naming it.
pub fn stdout() -> Named<io::BufWriter<io::StdoutLock<'static>>> {
    Named::new(
        io::BufWriter::with_capacity(64 << 10, io::stdout().lock()),
        STDOUT,
    )
}

/// Fails when standard output was closed when bttrace started.
///
/// The Rust runtime puts `/dev/null`, opened read-write, on a standard descriptor it finds
/// closed at start-up, so a closed standard output looks like `/dev/null` afterwards. A shell
/// redirection `>/dev/null` opens it write-only: on Linux the two are told apart by the
/// descriptor's access mode (`/proc/self/fdinfo/1`). Elsewhere this check passes.
pub fn stdout_open() -> io::Result<()> {
    if stdout_was_closed() {
        return Err(io::Error::new(
            io::ErrorKind::BrokenPipe,
            "standard output is closed: the report would be lost (redirect it to a file, or to /dev/null to discard it)",
        ));
    }
    Ok(())
}

fn stdout_was_closed() -> bool {
    let Ok(target) = std::fs::read_link("/proc/self/fd/1") else {
        return false;
    };
    if target != std::path::Path::new("/dev/null") {
        return false;
    }
    let Ok(info) = std::fs::read_to_string("/proc/self/fdinfo/1") else {
        return false;
    };
    let flags = info
        .lines()
        .find_map(|l| l.strip_prefix("flags:"))
        .and_then(|f| u32::from_str_radix(f.trim(), 8).ok());
    // O_ACCMODE is 3; O_RDWR is 2 (O_WRONLY, what `>/dev/null` gives, is 1).
    flags.is_some_and(|f| f & 3 == 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Full;
    impl Write for Full {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Err(io::Error::from(io::ErrorKind::StorageFull))
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_named_writer_names_its_output_in_every_error() {
        let mut w = Named::new(Full, "out/flows.csv");
        let e = w.write_all(b"x").unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::StorageFull);
        assert!(
            e.to_string().starts_with("cannot write out/flows.csv: "),
            "{e}"
        );
        let mut w = Named::new(Full, "a\nb");
        let e = w.write(b"x").unwrap_err();
        assert!(e.to_string().starts_with("cannot write a\\x0ab: "), "{e}");
    }
}
