//! The `bttrace` command: everything is in the library, see [`bttrace::cli`].
#![forbid(unsafe_code)]

fn main() -> std::process::ExitCode {
    bttrace::cli::main()
}
