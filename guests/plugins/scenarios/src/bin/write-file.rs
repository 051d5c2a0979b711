//! `write-file (ok|denied) PATH...`: writes each PATH through the plugin's
//! own WASI filesystem (create or truncate, then a line), and checks that
//! every write worked (`ok`) or that every write failed (`denied`).

fn main() {
    scenarios::run(|args| {
        let expect_ok = match args[0].as_str() {
            "ok" => true,
            "denied" => false,
            other => panic!("expected ok or denied, got {other:?}"),
        };
        for path in &args[1..] {
            let written = std::fs::write(path, "written by the plugin\n");
            assert_eq!(written.is_ok(), expect_ok, "{path}: {written:?}");
        }
        Ok(())
    });
}
