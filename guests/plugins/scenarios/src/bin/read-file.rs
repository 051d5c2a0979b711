//! `read-file PATH [CONTENT]`: reads PATH through the plugin's own WASI
//! filesystem. With CONTENT the read must work and find it; without, the
//! read must fail (nothing was granted).

fn main() {
    scenarios::run(|args| {
        let read = std::fs::read_to_string(&args[0]);
        match (args.get(1), read) {
            (Some(expected), Ok(text)) => assert_eq!(text.trim(), expected),
            (None, Err(_)) => {}
            (expected, read) => panic!("expected {expected:?}, read {read:?}"),
        }
        Ok(())
    });
}
