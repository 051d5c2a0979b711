use super::*;

// The functions under test, their errors as text (what the tests compare).

fn read(component: &[u8]) -> Result<Option<String>, String> {
    super::read(component).map_err(|e| e.to_string())
}

fn read_file(file: &std::fs::File) -> Result<Option<String>, String> {
    super::read_file(file).map_err(|e| e.to_string())
}

fn embed(component: &[u8], manifest: &str) -> Result<Vec<u8>, String> {
    super::embed(component, manifest).map_err(|e| e.to_string())
}

/// The smallest component there is: the header alone.
fn empty_component() -> Vec<u8> {
    COMPONENT_HEADER.to_vec()
}

/// A section of id `id` around `contents` (sizes below 128).
fn section(id: u8, contents: &[u8]) -> Vec<u8> {
    let mut out = vec![id, u8::try_from(contents.len()).unwrap()];
    out.extend_from_slice(contents);
    out
}

/// A custom section named `name` holding `payload`.
fn custom(name: &str, payload: &str) -> Vec<u8> {
    let mut contents = vec![u8::try_from(name.len()).unwrap()];
    contents.extend_from_slice(name.as_bytes());
    contents.extend_from_slice(payload.as_bytes());
    section(CUSTOM, &contents)
}

/// A component whose one core module holds `module_sections`, as a
/// compiler's `#[link_section]` static puts a custom section there.
fn with_module(module_sections: &[Vec<u8>]) -> Vec<u8> {
    let mut module = MODULE_HEADER.to_vec();
    module_sections.iter().for_each(|s| module.extend_from_slice(s));
    let mut component = empty_component();
    component.extend_from_slice(&section(CORE_MODULE, &module));
    component
}

#[test]
fn a_manifest_compiled_into_a_core_module_is_read() {
    let plugin = with_module(&[
        section(1, &[0]),
        custom("name", "x"),
        custom(SECTION, "allow-run = [\"git\"]\n"),
    ]);
    assert_eq!(read(&plugin).unwrap().as_deref(), Some("allow-run = [\"git\"]\n"));
    // Another custom section in the module is not a manifest.
    assert_eq!(read(&with_module(&[custom("procbox-manifesto", "x")])), Ok(None));
}

#[test]
fn a_plugin_carrying_two_manifests_is_refused_and_embedding_a_second_too() {
    let compiled = with_module(&[custom(SECTION, "a")]);
    let mut both = compiled.clone();
    both.extend_from_slice(&custom(SECTION, "b"));
    let why = read(&both).unwrap_err();
    assert!(
        why.contains("two manifests") && why.contains("compiled into its code"),
        "{why}"
    );
    let why = embed(&compiled, "b").unwrap_err();
    assert!(
        why.contains("already carries a manifest") && why.contains("rebuild"),
        "{why}"
    );
    let two_in_modules = with_module(&[custom(SECTION, "a"), custom(SECTION, "b")]);
    assert!(read(&two_in_modules).is_err());
}

#[test]
fn a_manifest_round_trips_and_replaces_the_one_before() {
    let plain = empty_component();
    assert_eq!(read(&plain), Ok(None));
    let once = embed(&plain, "allow-run = [\"git\"]\n").unwrap();
    assert_eq!(read(&once).unwrap().as_deref(), Some("allow-run = [\"git\"]\n"));
    let twice = embed(&once, "allow-run = [\"cat\"]\n").unwrap();
    assert_eq!(read(&twice).unwrap().as_deref(), Some("allow-run = [\"cat\"]\n"));
    assert_eq!(twice.len(), once.len(), "replaced, not added");
}

#[test]
fn other_sections_are_kept_byte_for_byte() {
    let mut component = empty_component();
    // A custom section "name" with two bytes of payload, then one of id 7.
    component.extend_from_slice(&[0, 7, 4, b'n', b'a', b'm', b'e', 1, 2, 7, 3, 9, 9, 9]);
    let embedded = embed(&component, "x").unwrap();
    assert_eq!(&embedded[..component.len()], &component[..]);
    assert_eq!(read(&embedded).unwrap().as_deref(), Some("x"));
}

#[test]
fn malformed_input_is_an_error_never_a_panic() {
    let mut truncated = empty_component();
    truncated.extend_from_slice(&[0, 50, 3]);
    for bad in [
        &b""[..],
        b"\0asm\x01\0\0\0",
        &truncated,
        &[
            0, 0x61, 0x73, 0x6d, 0x0d, 0, 1, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        ],
        // A core module whose header is not one, and one whose custom
        // section's name runs past the section.
        &[0, 0x61, 0x73, 0x6d, 0x0d, 0, 1, 0, 1, 2, 0, 0],
        &with_module(&[section(0, &[20, b'p'])]),
    ] {
        assert!(read(bad).is_err(), "{bad:?}");
    }
    let mut two = embed(&empty_component(), "a").unwrap();
    two.extend_from_slice(&embed(&empty_component(), "b").unwrap()[8..]);
    assert!(read(&two).is_err());
}

/// Reading from the file by section headers finds what reading all its
/// bytes finds, errors included.
#[test]
fn reading_a_file_agrees_with_reading_its_bytes() {
    let mut other = empty_component();
    other.extend_from_slice(&[0, 7, 4, b'n', b'a', b'm', b'e', 1, 2, 7, 3, 9, 9, 9]);
    let mut truncated = empty_component();
    truncated.extend_from_slice(&[0, 50, 3]);
    let mut two = embed(&empty_component(), "a").unwrap();
    two.extend_from_slice(&embed(&empty_component(), "b").unwrap()[8..]);
    let cases = [
        empty_component(),
        embed(&other, "allow-run = [\"git\"]\n").unwrap(),
        other,
        truncated,
        two,
        b"\0asm\x01\0\0\0".to_vec(),
        Vec::new(),
        with_module(&[custom(SECTION, "allow-run = [\"cat\"]\n")]),
        with_module(&[section(0, &[20, b'p'])]),
    ];
    for bytes in cases {
        let mut file = tempfile::tempfile().unwrap();
        std::io::Write::write_all(&mut file, &bytes).unwrap();
        assert_eq!(read_file(&file), read(&bytes), "{bytes:?}");
    }
}
