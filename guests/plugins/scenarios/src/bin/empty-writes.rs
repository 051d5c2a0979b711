//! `empty-writes N [write|write-zeroes]`: the attack of GHSA-5m8g-xhq4-4h93
//! on a child's stdin. Starts `sleep 30` with stdin piped, fills the pipe
//! until the host's writer is stuck on it (`check-write` stays 0), then
//! makes N empty writes (`write` of an empty list, or `write-zeroes 0`),
//! each of which `wasi:io` permits, prints `empty_writes=N` and waits a
//! second (the host measures its memory then). It checks that every empty
//! write was accepted, and that an empty write fails once the child is gone.
//!
//! Raw bindings: the SDK's `ChildStdin` never makes an empty write.

mod raw {
    wit_bindgen::generate!({
        path: "../../../wit",
        inline: "package procbox:scenarios; world empty-writes { import procbox:host/process@0.2.1; }",
        world: "procbox:scenarios/empty-writes",
        generate_all,
    });
}

use raw::procbox::host0_2_1::process::{spawn, Command, Stdio};
use raw::wasi::clocks::monotonic_clock::subscribe_duration;
use raw::wasi::io::poll::poll;
use raw::wasi::io::streams::{OutputStream, StreamError};

/// Waits up to 200 ms for the stream to accept bytes; returns how many.
fn permit_within_a_moment(stdin: &OutputStream) -> u64 {
    let ready = stdin.subscribe();
    let timer = subscribe_duration(200_000_000);
    poll(&[&ready, &timer]);
    stdin.check_write().expect("stdin is open")
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let n: u64 = args.first().map_or(1000, |a| a.parse().expect("a count"));
    let zeroes = match args.get(1).map(String::as_str) {
        None | Some("write") => false,
        Some("write-zeroes") => true,
        Some(other) => panic!("unknown path {other}"),
    };

    let child = spawn(&Command {
        program: "sleep".into(),
        args: vec!["30".into()],
        env: vec![],
        cwd: None,
        stdin: Stdio::Piped,
        stdout: Stdio::Null,
        stderr: Stdio::Null,
        timeout: None,
        measure_tree: false,
    })
    .expect("spawn sleep");
    let stdin = child.take_stdin().expect("stdin is piped");

    // `sleep` never reads: fill the pipe, then one budget more, which the
    // host's writer holds while it waits for room that never comes.
    let mut sent = 0u64;
    loop {
        let permit = match stdin.check_write().expect("stdin is open") {
            0 => permit_within_a_moment(&stdin),
            n => n,
        };
        if permit == 0 {
            break;
        }
        let chunk = vec![b'x'; permit as usize];
        stdin.write(&chunk).expect("a permitted write");
        sent += permit;
        assert!(
            sent < 64 << 20,
            "the host accepted {sent} bytes for a child that never reads"
        );
    }
    assert!(
        matches!(stdin.check_write(), Ok(0)),
        "the writer is stuck on the full pipe"
    );

    for i in 0..n {
        let written = if zeroes {
            stdin.write_zeroes(0)
        } else {
            stdin.write(&[])
        };
        if let Err(e) = written {
            panic!("empty write {i} of {n} failed: {e:?}");
        }
    }
    // The host reads its memory now, while whatever the writes left queued
    // is still held: a second before anything is dropped.
    println!("sent={sent} empty_writes={n}");
    poll(&[&subscribe_duration(1_000_000_000)]);

    // Once the child is gone, the writer's pending write fails with a
    // broken pipe (which makes the stream ready): an empty write must fail
    // too, not be taken for a no-op on a healthy stream.
    child.kill().expect("kill sleep");
    child.wait().expect("reap sleep");
    let ready = stdin.subscribe();
    let timer = subscribe_duration(10_000_000_000);
    poll(&[&ready, &timer]);
    drop((ready, timer));
    match stdin.write(&[]) {
        Err(StreamError::LastOperationFailed(_)) | Err(StreamError::Closed) => {}
        Ok(()) => panic!("an empty write to a broken stream succeeded"),
    }
    assert!(
        matches!(stdin.write(&[]), Err(StreamError::Closed)),
        "and then the stream is closed"
    );
    drop(stdin);
    drop(child);
}
