//! `plugin-0-2-0 PROGRAM [ARGS...]`: a plugin built against
//! `procbox:host@0.2.0`, with raw bindings and no SDK, as plugins built
//! before 0.2.1 are: it runs the command with stdout piped and its tree
//! measured, reads stdout to the end, waits, and prints `stdout=...
//! status=... measured=...`. A 0.2.1 host serves 0.2.0 plugins as they are,
//! so this must keep working.

mod raw {
    wit_bindgen::generate!({
        path: "../../../wit",
        inline: "package procbox:scenarios; world old { import procbox:host/process@0.2.0; }",
        world: "procbox:scenarios/old",
        generate_all,
    });
}

use raw::procbox::host0_2_0::process::{self, Command, Stdio, Termination};
use raw::wasi::io::streams::StreamError;

fn main() {
    let mut words = std::env::args().skip(1);
    let program = words.next().expect("a program");
    let command = Command {
        program,
        args: words.collect(),
        env: Vec::new(),
        cwd: None,
        stdin: Stdio::Null,
        stdout: Stdio::Piped,
        stderr: Stdio::Null,
        timeout: None,
        measure_tree: true,
    };
    let child = process::spawn(&command).expect("spawn");
    let stdout = child.take_stdout().expect("piped");
    let mut read = Vec::new();
    loop {
        match stdout.blocking_read(64 * 1024) {
            Ok(bytes) => read.extend(bytes),
            Err(StreamError::Closed) => break,
            Err(e) => panic!("reading stdout: {e:?}"),
        }
    }
    drop(stdout);
    let status = child.wait().expect("wait");
    let ended = match status.termination {
        Termination::Exited(code) => format!("exited:{code}"),
        Termination::Signalled(signal) => format!("signalled:{signal}"),
    };
    println!(
        "stdout={} status={ended} measured={}",
        String::from_utf8_lossy(&read).trim(),
        status.tree_usage.is_some()
    );
}
