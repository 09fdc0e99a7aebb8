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
//! - [`create_file`] and [`refuse`]: output files. Each is written under a hidden temporary
//!   name beside it (`.flows.csv.XXXXXX.tmp`) and renamed into place by [`Pending::commit`]
//!   once complete. A run that fails or is refused leaves no half-written or header-only
//!   file behind, `--force` replaces an old output only with a whole new one, and a file that
//!   appears under the name during the run is not replaced (the run's output is kept under
//!   its temporary name, and the error says where). A run that is killed leaves its rows so
//!   far in the temporary file.

use std::fmt;
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

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

/// Refuses an output that exists (unless `force`), or that is one of the inputs or a file the
/// walk of them would read (even with `force`: it would be replaced while it is read).
pub fn refuse(path: &Path, force: bool, inputs: &[PathBuf]) -> io::Result<()> {
    if crate::capture::among_inputs(path, inputs) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "{} is also an input; bttrace will not write over what it reads",
                path.display()
            ),
        ));
    }
    match fs::metadata(path) {
        Ok(m) if m.is_dir() => Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!("{} is a directory, not a file", path.display()),
        )),
        _ if !force && fs::symlink_metadata(path).is_ok() => Err(exists(path)),
        _ => Ok(()),
    }
}

fn exists(path: &Path) -> io::Error {
    io::Error::new(
        io::ErrorKind::AlreadyExists,
        format!("{} exists; use --force to overwrite it", path.display()),
    )
}

/// An output file being written, not yet under its name: dropped without
/// [`commit`](Pending::commit), it is removed.
#[derive(Debug)]
pub struct Pending {
    /// The temporary file; `None` when the output is not a regular file (`/dev/stdout`, a
    /// FIFO, a device), which is written in place.
    tmp: Option<tempfile::TempPath>,
    /// Where it goes (a symbolic link resolved, so the link stays a link).
    target: PathBuf,
    /// The name the user gave, for messages.
    path: PathBuf,
    force: bool,
}

/// Starts the output file `path`: a file to write, and the [`Pending`] that names it when
/// complete. An existing `path` is refused unless `force`; with `force`, a regular file keeps
/// its permissions when replaced, and anything else (`/dev/stdout`, a FIFO) is written in place.
pub fn create_file(path: &Path, force: bool) -> io::Result<(File, Pending)> {
    let cannot =
        |e: io::Error| io::Error::new(e.kind(), format!("cannot write {}: {e}", path.display()));
    let existing = fs::metadata(path).ok();
    if !force && (existing.is_some() || fs::symlink_metadata(path).is_ok()) {
        return Err(exists(path));
    }
    let mut target = path.to_path_buf();
    let mut mode = 0o666;
    if let Some(m) = &existing {
        if m.is_dir() {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!("{} is a directory, not a file", path.display()),
            ));
        }
        if !m.is_file() {
            let file = fs::OpenOptions::new()
                .write(true)
                .truncate(true)
                .open(path)
                .map_err(cannot)?;
            let pending = Pending {
                tmp: None,
                target,
                path: path.to_path_buf(),
                force,
            };
            return Ok((file, pending));
        }
        target = fs::canonicalize(path).map_err(cannot)?;
        mode = permission_bits(m);
    }
    let dir = match target.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = target
        .file_name()
        .map_or_else(|| "output".into(), |n| n.to_string_lossy());
    let prefix = format!(".{name}.");
    let mut b = tempfile::Builder::new();
    b.prefix(&prefix).suffix(".tmp");
    set_mode(&mut b, mode);
    let (file, tmp) = b.tempfile_in(dir).map_err(cannot)?.into_parts();
    let pending = Pending {
        tmp: Some(tmp),
        target,
        path: path.to_path_buf(),
        force,
    };
    Ok((file, pending))
}

#[cfg(unix)]
fn permission_bits(m: &fs::Metadata) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    m.permissions().mode() & 0o7777
}

#[cfg(not(unix))]
fn permission_bits(_: &fs::Metadata) -> u32 {
    0o666
}

/// The file gets `mode` less the umask, as a file opened by name would (tempfile's own
/// default is 0o600).
#[cfg(unix)]
fn set_mode(b: &mut tempfile::Builder, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    b.permissions(fs::Permissions::from_mode(mode));
}

#[cfg(not(unix))]
fn set_mode(_: &mut tempfile::Builder, _: u32) {}

impl Pending {
    /// The name the output will have.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Gives the complete file its name. Without `force`, a file that appeared under that
    /// name during the run is left alone, and this run's output is kept under its temporary
    /// name, which the error gives.
    pub fn commit(self) -> io::Result<()> {
        let Some(tmp) = self.tmp else {
            return Ok(());
        };
        let done = if self.force {
            tmp.persist(&self.target)
        } else {
            tmp.persist_noclobber(&self.target)
        };
        match done {
            Ok(()) => Ok(()),
            Err(e) if e.error.kind() == io::ErrorKind::AlreadyExists => {
                let kept = e.path.keep().map_err(|k| k.error)?;
                Err(io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    format!(
                        "{} appeared during the run and was left alone; this run's output is in {}",
                        self.path.display(),
                        kept.display()
                    ),
                ))
            }
            Err(e) => Err(io::Error::new(
                e.error.kind(),
                format!("cannot write {}: {}", self.path.display(), e.error),
            )),
        }
    }
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

    fn read(p: &Path) -> String {
        fs::read_to_string(p).unwrap()
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn an_output_has_its_name_only_once_complete() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("flows.csv");
        let (mut f, pending) = create_file(&path, false).unwrap();
        f.write_all(b"a,b\n").unwrap();
        assert!(!path.exists(), "named before it was complete");
        let listed = names(dir.path());
        assert_eq!(listed.len(), 1);
        assert!(
            listed[0].starts_with(".flows.csv.") && listed[0].ends_with(".tmp"),
            "{listed:?}"
        );
        drop(f);
        pending.commit().unwrap();
        assert_eq!(read(&path), "a,b\n");
        assert_eq!(names(dir.path()), ["flows.csv"]);
    }

    #[test]
    fn an_output_never_committed_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("flows.csv");
        let (mut f, pending) = create_file(&path, false).unwrap();
        f.write_all(b"half").unwrap();
        drop((f, pending));
        assert!(names(dir.path()).is_empty());
    }

    #[test]
    fn an_existing_output_is_refused_without_force_and_replaced_whole_with_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("flows.csv");
        fs::write(&path, "old").unwrap();
        let e = create_file(&path, false).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::AlreadyExists);
        assert!(e.to_string().contains("use --force"), "{e}");
        assert!(refuse(&path, false, &[]).is_err());
        assert!(refuse(&path, true, &[]).is_ok());
        // With --force the old file stays whole until the new one is complete.
        let (mut f, pending) = create_file(&path, true).unwrap();
        f.write_all(b"new").unwrap();
        assert_eq!(read(&path), "old");
        drop(f);
        pending.commit().unwrap();
        assert_eq!(read(&path), "new");
        // A run that fails with --force leaves the old output as it was.
        let (mut f, pending) = create_file(&path, true).unwrap();
        f.write_all(b"broken").unwrap();
        drop((f, pending));
        assert_eq!(read(&path), "new");
        assert_eq!(names(dir.path()), ["flows.csv"]);
    }

    #[test]
    fn a_file_that_appears_during_the_run_is_left_alone_and_the_output_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.html");
        let (mut f, pending) = create_file(&path, false).unwrap();
        f.write_all(b"ours").unwrap();
        drop(f);
        fs::write(&path, "theirs").unwrap();
        let e = pending.commit().unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(read(&path), "theirs");
        let msg = e.to_string();
        assert!(msg.contains("appeared during the run"), "{msg}");
        let kept = names(dir.path())
            .into_iter()
            .find(|n| n != "a.html")
            .unwrap();
        assert!(msg.contains(&kept), "{msg} does not name {kept}");
        assert_eq!(read(&dir.path().join(kept)), "ours");
    }

    #[test]
    fn a_link_to_an_output_stays_a_link_and_the_file_it_names_is_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real.csv");
        let link = dir.path().join("link.csv");
        fs::write(&real, "old").unwrap();
        std::os::unix::fs::symlink(&real, &link).unwrap();
        let (mut f, pending) = create_file(&link, true).unwrap();
        f.write_all(b"new").unwrap();
        drop(f);
        pending.commit().unwrap();
        assert!(fs::symlink_metadata(&link).unwrap().is_symlink());
        assert_eq!(read(&real), "new");
    }

    #[test]
    fn a_device_is_written_in_place() {
        let (mut f, pending) = create_file(Path::new("/dev/null"), true).unwrap();
        f.write_all(b"x").unwrap();
        pending.commit().unwrap();
        use std::os::unix::fs::FileTypeExt;
        assert!(
            fs::metadata("/dev/null")
                .unwrap()
                .file_type()
                .is_char_device()
        );
    }

    #[test]
    fn an_output_gets_the_usual_permissions_and_a_replaced_one_keeps_its_own() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.csv");
        let (f, pending) = create_file(&path, false).unwrap();
        drop(f);
        pending.commit().unwrap();
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        // As a file opened by name gets (0o666 less the umask), not tempfile's private 0o600.
        let plain = dir.path().join("plain");
        File::create(&plain).unwrap();
        assert_eq!(mode(&path), mode(&plain));
        fs::set_permissions(&path, fs::Permissions::from_mode(0o640)).unwrap();
        let (f, pending) = create_file(&path, true).unwrap();
        drop(f);
        pending.commit().unwrap();
        assert_eq!(mode(&path), 0o640);
    }

    #[test]
    fn a_directory_is_not_an_output_file() {
        let dir = tempfile::tempdir().unwrap();
        assert!(create_file(dir.path(), true).is_err());
        assert!(refuse(dir.path(), true, &[]).is_err());
    }
}
