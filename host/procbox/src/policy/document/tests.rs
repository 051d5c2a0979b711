use super::*;

fn grants(text: &str) -> Result<Document, String> {
    parse(text, Path::new("/etc/procbox/grants.toml"), Kind::Grants).map_err(|e| e.to_string())
}

#[test]
fn rules_remember_their_line() {
    let doc = grants("# grants\nallow-run = [\n  \"git log **\",\n]\ndeny-run = [\"git push **\"]\n").unwrap();
    assert_eq!(doc.allow_run[0].source.to_string(), "/etc/procbox/grants.toml:3");
    assert_eq!(doc.deny_run[0].source.to_string(), "/etc/procbox/grants.toml:5");
}

#[test]
fn the_list_form_and_pins() {
    let doc = grants(&format!(
        "[[run]]\nprogram = \"printf\"\nargs = [\"%s\", \"a b\"]\nsha256 = \"{}\"\n\n[[run]]\nprogram = \"rm\"\ndeny = true\n",
        "ab".repeat(32)
    ))
    .unwrap();
    let printf = &doc.allow_run[0];
    assert_eq!(
        printf.parts,
        Some(("printf".into(), Some(vec!["%s".into(), "a b".into()])))
    );
    assert_eq!(printf.sha256, Some([0xab; 32]));
    assert_eq!(doc.deny_run[0].written, "rm");
    assert_eq!(
        doc.deny_run[0].source.to_string(),
        "/etc/procbox/grants.toml:6",
        "the `[[run]]` header line"
    );
}

#[test]
fn limits_and_directories() {
    let doc = grants("dir = [\"src\"]\n[limits]\nmax-children = 4\nmax-runtime = \"1m 30s\"\nmax-output = \"16MiB\"\n")
        .unwrap();
    assert_eq!(doc.dirs, vec![PathBuf::from("/etc/procbox/src")]);
    let limits = doc.limits.limits();
    assert_eq!(limits.max_children, Some(4));
    assert_eq!(limits.max_runtime, Some(Duration::from_secs(90)));
    assert_eq!(limits.max_output_bytes, Some(16 << 20));
}

#[test]
fn mistakes_are_reported_with_file_and_line() {
    let cases = [
        // a typo in a key is an error, not a silently ignored grant
        ("allow_run = [\"git\"]\n", "grants.toml:1"),
        ("\n\nallow-run = \"git\"\n", "grants.toml:3"),
        ("[limits]\nmax-runtime = \"soon\"\n", "not a duration"),
        ("[limits]\nmax-output = \"lots\"\n", "not a size"),
        (
            "[[run]]\nprogram = \"git\"\nsha256 = \"xyz\"\n",
            "not 64 hexadecimal digits",
        ),
        ("allow-run = [\"git\"", "grants.toml:1"),
    ];
    for (text, expected) in cases {
        let err = grants(text).unwrap_err();
        assert!(err.contains(expected), "{text:?}: {err}");
        assert!(err.starts_with("/etc/procbox/grants.toml"), "{err}");
    }
}

#[test]
fn a_manifest_can_only_request() {
    let manifest = |text| parse(text, Path::new("m.toml"), Kind::Manifest).map_err(|e| e.to_string());
    assert!(
        manifest("[plugin]\nname = \"report\"\nallow-run = [\"git log **\"]\n").is_err(),
        "keys after a table belong to it"
    );
    let ok = manifest("allow-run = [\"git log **\"]\nallow-env = [\"LANG=C\"]\n[plugin]\nname = \"report\"\n").unwrap();
    assert_eq!(ok.plugin.unwrap().name.as_deref(), Some("report"));
    for text in [
        "deny-run = [\"rm\"]",
        "dir = [\".\"]",
        "allow-net = true",
        "[limits]\nmax-spawns = 1",
        "[[run]]\nprogram = \"rm\"\ndeny = true",
    ] {
        let err = manifest(text).unwrap_err();
        assert!(err.contains("belong in the user's grants"), "{text}: {err}");
    }
}

#[test]
fn sizes() {
    assert_eq!(parse_bytes("65536"), Ok(65536));
    assert_eq!(parse_bytes("64KiB"), Ok(64 << 10));
    assert_eq!(parse_bytes("2G"), Ok(2 << 30));
    assert!(parse_bytes("-1").is_err());
    assert!(parse_bytes("99999999999999999999G").is_err());
}
