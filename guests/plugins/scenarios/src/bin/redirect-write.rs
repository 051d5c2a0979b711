//! `redirect-write EXPECTED FILE...`: for each FILE, appends a line to it
//! through a redirect (`printf` with stdout appended to FILE), and checks
//! the outcome against EXPECTED: `ok` (it ran and exited 0) or
//! `denied:FRAGMENT|FRAGMENT...` (the gate refused it, naming each
//! fragment).

use procbox_sdk::{Command, Error, Stdio};

fn main() {
    scenarios::run(|args| {
        let (expected, files) = args.split_first().expect("EXPECTED FILE...");
        for file in files {
            let result = Command::new("printf")
                .arg("planted by the plugin\\n")
                .stdout(Stdio::append(file))
                .status();
            match (expected.split_once(':'), result) {
                (None, Ok(status)) if expected == "ok" => assert!(status.success(), "{file}: {status}"),
                (Some(("denied", fragments)), Err(Error::Denied(message))) => {
                    println!("{file}: denied: {message}");
                    for fragment in fragments.split('|') {
                        assert!(message.contains(fragment), "{fragment:?} is not in {message:?}");
                    }
                }
                (_, other) => panic!("{file}: expected {expected}, got {other:?}"),
            }
        }
        Ok(())
    });
}
