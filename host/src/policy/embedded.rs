//! A plugin's manifest carried inside the plugin: a custom section named
//! [`SECTION`] at the top level of the component, holding the manifest's
//! TOML as written. One artifact, so a manifest cannot be forgotten or
//! separated from its plugin; `procbox embed-manifest` writes it.
//!
//! Only the top level's sections are read (an id byte and a LEB128 size
//! each): a nested module's custom sections are not the component's.

/// The custom section's name.
pub const SECTION: &str = "procbox-manifest";

/// The 8-byte header of a component (magic, version 13, layer 1).
const COMPONENT_HEADER: [u8; 8] = [0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00];

/// One top-level section: its id, and where its contents lie.
struct Section {
    id: u8,
    start: usize,
    contents: std::ops::Range<usize>,
}

/// The manifest embedded in `component`, if any.
///
/// # Errors
/// The bytes are not a component, its sections are malformed, it has two
/// manifest sections, or the manifest is not UTF-8.
pub fn read(component: &[u8]) -> Result<Option<String>, String> {
    let mut found = None;
    for section in sections(component)? {
        if let Some(payload) = manifest_payload(component, &section)? {
            if found.is_some() {
                return Err(format!("it has two {SECTION} sections"));
            }
            found = Some(manifest_text(payload)?);
        }
    }
    Ok(found)
}

/// The manifest embedded in the component in `file`, reading only the top
/// level's section headers and custom sections (a few KiB of a plugin that
/// may be 20 MB), with `pread`, so the file's offset is left alone.
///
/// # Errors
/// As [`read`], and when the file cannot be read.
pub fn read_file(file: &std::fs::File) -> Result<Option<String>, String> {
    use std::os::unix::fs::FileExt;
    let len = file.metadata().map_err(|e| e.to_string())?.len();
    let at_offset = |offset: u64, want: usize| -> Result<Vec<u8>, String> {
        let mut buf = vec![0; want];
        file.read_exact_at(&mut buf, offset).map_err(|e| e.to_string())?;
        Ok(buf)
    };
    let header_len = COMPONENT_HEADER.len() as u64;
    if len < header_len || at_offset(0, COMPONENT_HEADER.len())? != COMPONENT_HEADER {
        return Err("it is not a WebAssembly component".into());
    }
    let mut found = None;
    let mut at = header_len;
    while at < len {
        // An id byte and at most 5 bytes of size, or what is left.
        let head = at_offset(at, usize::try_from((len - at).min(6)).unwrap_or(6))?;
        let (size, used) = read_leb128(&head[1..]).ok_or("a section size is malformed")?;
        let start = at + 1 + used as u64;
        let end = start
            .checked_add(size)
            .filter(|end| *end <= len)
            .ok_or("a section runs past the end of the file")?;
        if head[0] == 0 {
            let contents = at_offset(start, usize::try_from(size).map_err(|_| "a section is too large")?)?;
            let section = Section {
                id: 0,
                start: 0,
                contents: 0..contents.len(),
            };
            if let Some(payload) = manifest_payload(&contents, &section)? {
                if found.is_some() {
                    return Err(format!("it has two {SECTION} sections"));
                }
                found = Some(manifest_text(payload)?);
            }
        }
        at = end;
    }
    Ok(found)
}

/// A manifest section's payload as text.
fn manifest_text(payload: &[u8]) -> Result<String, String> {
    std::str::from_utf8(payload)
        .map(str::to_string)
        .map_err(|_| format!("its {SECTION} section is not UTF-8"))
}

/// `component` with `manifest` embedded, replacing any manifest it had.
///
/// # Errors
/// As [`read`].
pub fn embed(component: &[u8], manifest: &str) -> Result<Vec<u8>, String> {
    let mut out = component[..COMPONENT_HEADER.len().min(component.len())].to_vec();
    for section in sections(component)? {
        if manifest_payload(component, &section)?.is_none() {
            out.extend_from_slice(&component[section.start..section.contents.end]);
        }
    }
    let mut contents = Vec::new();
    leb128(&mut contents, SECTION.len() as u64);
    contents.extend_from_slice(SECTION.as_bytes());
    contents.extend_from_slice(manifest.as_bytes());
    out.push(0); // a custom section
    leb128(&mut out, contents.len() as u64);
    out.extend_from_slice(&contents);
    Ok(out)
}

/// The payload of `section` if it is the manifest's custom section.
fn manifest_payload<'a>(bytes: &'a [u8], section: &Section) -> Result<Option<&'a [u8]>, String> {
    if section.id != 0 {
        return Ok(None);
    }
    let contents = &bytes[section.contents.clone()];
    let (name_len, used) = read_leb128(contents).ok_or("a custom section's name is malformed")?;
    let name_end = used
        .checked_add(usize::try_from(name_len).map_err(|_| "a custom section's name is too long")?)
        .filter(|end| *end <= contents.len())
        .ok_or("a custom section's name runs past its section")?;
    Ok((&contents[used..name_end] == SECTION.as_bytes()).then(|| &contents[name_end..]))
}

/// The top-level sections of a component.
fn sections(bytes: &[u8]) -> Result<Vec<Section>, String> {
    if bytes.len() < COMPONENT_HEADER.len() || bytes[..COMPONENT_HEADER.len()] != COMPONENT_HEADER {
        return Err("it is not a WebAssembly component".into());
    }
    let mut sections = Vec::new();
    let mut at = COMPONENT_HEADER.len();
    while at < bytes.len() {
        let id = bytes[at];
        let (size, used) = read_leb128(&bytes[at + 1..]).ok_or("a section size is malformed")?;
        let start = at + 1 + used;
        let end = usize::try_from(size)
            .ok()
            .and_then(|size| start.checked_add(size))
            .filter(|end| *end <= bytes.len())
            .ok_or("a section runs past the end of the file")?;
        sections.push(Section {
            id,
            start: at,
            contents: start..end,
        });
        at = end;
    }
    Ok(sections)
}

/// An unsigned LEB128 number (at most 5 bytes, as section sizes are u32)
/// and how many bytes it took.
fn read_leb128(bytes: &[u8]) -> Option<(u64, usize)> {
    let mut value = 0u64;
    for (i, byte) in bytes.iter().take(5).enumerate() {
        value |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Some((value, i + 1));
        }
    }
    None
}

fn leb128(out: &mut Vec<u8>, mut value: u64) {
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The smallest component there is: the header alone.
    fn empty_component() -> Vec<u8> {
        COMPONENT_HEADER.to_vec()
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
        // A custom section "name" with two bytes of payload, then one of id 1.
        component.extend_from_slice(&[0, 7, 4, b'n', b'a', b'm', b'e', 1, 2, 1, 3, 9, 9, 9]);
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
        other.extend_from_slice(&[0, 7, 4, b'n', b'a', b'm', b'e', 1, 2, 1, 3, 9, 9, 9]);
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
        ];
        for bytes in cases {
            let mut file = tempfile::tempfile().unwrap();
            std::io::Write::write_all(&mut file, &bytes).unwrap();
            assert_eq!(read_file(&file), read(&bytes), "{bytes:?}");
        }
    }
}
