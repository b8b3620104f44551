//! The one way the tests run the built `bitlens` binary: a clean environment (the variables
//! that change what it does are removed unless a test sets them), stdin closed, output as text.
#![allow(dead_code)]

use std::process::{Command, ExitStatus, Stdio};

/// Variables the CLI reads: a developer's shell must not change a test's outcome.
const CLEARED: [&str; 3] = [
    "BITNET_RESCALE_GAMMA_ON_LOAD",
    "BITNET_STRICT_MODE",
    "RUST_LOG",
];

/// What one run gave.
#[derive(Debug)]
pub struct Run {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn ok(&self) -> bool {
        self.status.success()
    }

    /// (success, stdout, stderr).
    pub fn parts(self) -> (bool, String, String) {
        (self.ok(), self.stdout, self.stderr)
    }
}

/// `bitlens ARGS...` with the cleared environment plus `env`, ready to run or spawn.
pub fn command(args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_bitlens"));
    c.args(args).stdin(Stdio::null());
    for k in CLEARED {
        c.env_remove(k);
    }
    for (k, v) in env {
        c.env(k, v);
    }
    c
}

/// Runs `bitlens ARGS...` to its end; stdout and stderr must be UTF-8.
pub fn bitlens(args: &[&str], env: &[(&str, &str)]) -> Run {
    let o = command(args, env).output().expect("run bitlens");
    Run {
        status: o.status,
        stdout: String::from_utf8(o.stdout).expect("stdout is UTF-8"),
        stderr: String::from_utf8(o.stderr).expect("stderr is UTF-8"),
    }
}
