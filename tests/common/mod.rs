//! Helpers the CLI test crates share: run the built binary, read its output.
// Each test crate compiles this module on its own and uses only some of it.
#![allow(dead_code)]

use std::process::{Command, Output};

/// Runs the built `bttrace` with `args` and waits for it.
pub fn bttrace(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_bttrace"))
        .args(args)
        .output()
        .expect("run bttrace")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}
