//! A plugin's manifest carried inside the plugin: a custom section named
//! [`SECTION`] holding the manifest's TOML as written. One artifact, so a
//! manifest cannot be forgotten or separated from its plugin.
//!
//! The section is found in either of two places, and a plugin may carry
//! one manifest only:
//! - at the top level of the component, where `procbox embed-manifest`
//!   writes it (for any toolchain);
//! - in one of the component's core modules, where a compiler puts a
//!   `#[link_section]` static: the Rust SDK's `embed_manifest!` embeds the
//!   manifest file when the plugin is compiled, so there is no step after
//!   `cargo build`. A linker cannot add a section to the component
//!   itself, only to the code it links.
//!
//! Only section headers are walked (an id byte and a LEB128 size each) and
//! only custom sections are read: nested components are not looked into.

use std::borrow::Cow;
use std::ops::Range;

/// The custom section's name.
pub const SECTION: &str = "procbox-manifest";

/// The 8-byte header of a component (magic, version 13, layer 1).
const COMPONENT_HEADER: [u8; 8] = [0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00];

/// The 8-byte header of a core module (magic, version 1).
const MODULE_HEADER: [u8; 8] = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];

/// A component section's id for a core module.
const CORE_MODULE: u8 = 1;

/// A section's id for a custom section, in a component and in a module.
const CUSTOM: u8 = 0;

/// Why the manifest embedded in a plugin cannot be read or replaced.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EmbeddedError {
    /// The bytes are not a component.
    #[error("it is not a WebAssembly component")]
    NotAComponent,
    /// A section or a header is malformed: which.
    #[error("{what}")]
    Malformed {
        /// What is malformed, e.g. "a section size is malformed".
        what: &'static str,
    },
    /// A manifest compiled into its code, and one added after.
    #[error("it carries two manifests ({SECTION} sections): one compiled into its code and one added after")]
    TwoCompiledAndAdded,
    /// Two manifests at its top level.
    #[error("it has two {SECTION} sections")]
    Two,
    /// The manifest is not UTF-8.
    #[error("its {SECTION} section is not UTF-8")]
    NotUtf8,
    /// A manifest is compiled into its code: embedding one would make two.
    #[error(
        "its code already carries a manifest ({SECTION}, compiled in, as the Rust SDK's embed_manifest! does): \
         change that file and rebuild instead"
    )]
    CompiledIn,
    /// The file cannot be read.
    #[error("{0}")]
    Read(#[from] std::io::Error),
    /// An offset this machine cannot address.
    #[error("{0}")]
    Offset(#[from] std::num::TryFromIntError),
}

impl EmbeddedError {
    /// Whether it is about the manifest's own section (two of them, or
    /// not UTF-8) rather than bytes that are no component at all.
    pub fn is_about_the_manifest(&self) -> bool {
        matches!(
            self,
            EmbeddedError::TwoCompiledAndAdded
                | EmbeddedError::Two
                | EmbeddedError::NotUtf8
                | EmbeddedError::CompiledIn
        )
    }
}

/// A malformed section or header.
fn malformed(what: &'static str) -> EmbeddedError {
    EmbeddedError::Malformed { what }
}

/// One section: its id, where it starts (its id byte), and where its
/// contents lie.
struct Section {
    id: u8,
    start: u64,
    contents: Range<u64>,
}

/// Bytes to walk: a component in memory, or in a file read piecewise.
trait Source {
    fn len(&self) -> u64;
    /// `want` bytes at `at` (fewer only past the end).
    fn bytes(&self, at: u64, want: u64) -> Result<Cow<'_, [u8]>, EmbeddedError>;
}

impl Source for [u8] {
    fn len(&self) -> u64 {
        self.len() as u64
    }

    fn bytes(&self, at: u64, want: u64) -> Result<Cow<'_, [u8]>, EmbeddedError> {
        let start = usize::try_from(at.min(Source::len(self)))?;
        let end = usize::try_from(at.saturating_add(want).min(Source::len(self)))?;
        Ok(Cow::Borrowed(&self[start..end]))
    }
}

/// A file read with `pread`, so its offset is left alone.
struct FileSource<'a> {
    file: &'a std::fs::File,
    len: u64,
}

impl Source for FileSource<'_> {
    fn len(&self) -> u64 {
        self.len
    }

    fn bytes(&self, at: u64, want: u64) -> Result<Cow<'_, [u8]>, EmbeddedError> {
        use std::os::unix::fs::FileExt;
        let want = want.min(self.len.saturating_sub(at));
        let mut buf = vec![0; usize::try_from(want).map_err(|_| malformed("a section is too large"))?];
        self.file.read_exact_at(&mut buf, at)?;
        Ok(Cow::Owned(buf))
    }
}

/// The manifest embedded in `component`, if any.
///
/// # Errors
/// The bytes are not a component, its sections are malformed, it carries
/// two manifest sections, or the manifest is not UTF-8.
pub fn read(component: &[u8]) -> Result<Option<String>, EmbeddedError> {
    only_one(manifests(component)?)
}

/// The manifest embedded in the component in `file`, reading only section
/// headers and custom sections (a few KiB of a plugin that may be 20 MB).
///
/// # Errors
/// As [`read`], and when the file cannot be read.
pub fn read_file(file: &std::fs::File) -> Result<Option<String>, EmbeddedError> {
    let len = file.metadata()?.len();
    only_one(manifests(&FileSource { file, len })?)
}

/// A manifest found, and whether it is in a core module (put there by the
/// compiler) rather than at the component's top level.
struct Embedded {
    text: String,
    in_module: bool,
}

fn only_one(mut found: Vec<Embedded>) -> Result<Option<String>, EmbeddedError> {
    match found.len() {
        0 | 1 => Ok(found.pop().map(|m| m.text)),
        _ if found.iter().any(|m| m.in_module) => Err(EmbeddedError::TwoCompiledAndAdded),
        _ => Err(EmbeddedError::Two),
    }
}

/// Every manifest section of the component, at its top level and in its
/// core modules.
fn manifests<S: Source + ?Sized>(src: &S) -> Result<Vec<Embedded>, EmbeddedError> {
    if src.bytes(0, 8)?.as_ref() != COMPONENT_HEADER {
        return Err(EmbeddedError::NotAComponent);
    }
    let mut found = Vec::new();
    for section in sections(src, COMPONENT_HEADER.len() as u64..src.len())? {
        if let Some(text) = manifest_in(src, &section)? {
            found.push(Embedded { text, in_module: false });
        } else if section.id == CORE_MODULE {
            let module = section.contents.clone();
            if src.bytes(module.start, 8)?.as_ref() != MODULE_HEADER {
                return Err(malformed("a core module's header is malformed"));
            }
            for inner in sections(src, module.start + MODULE_HEADER.len() as u64..module.end)? {
                if let Some(text) = manifest_in(src, &inner)? {
                    found.push(Embedded { text, in_module: true });
                }
            }
        }
    }
    Ok(found)
}

/// The manifest's text if `section` is a manifest section.
fn manifest_in<S: Source + ?Sized>(src: &S, section: &Section) -> Result<Option<String>, EmbeddedError> {
    if section.id != CUSTOM {
        return Ok(None);
    }
    let contents = section.contents.clone();
    // A name is a LEB128 length and that many bytes: read the name first,
    // and the payload only when the name is ours.
    let head = src.bytes(contents.start, 5 + SECTION.len() as u64)?;
    let (name_len, used) = read_leb128(&head).ok_or(malformed("a custom section's name is malformed"))?;
    let name_end = contents
        .start
        .checked_add(used as u64)
        .and_then(|at| at.checked_add(name_len))
        .filter(|end| *end <= contents.end)
        .ok_or(malformed("a custom section's name runs past its section"))?;
    if name_len != SECTION.len() as u64 || &head[used..used + SECTION.len()] != SECTION.as_bytes() {
        return Ok(None);
    }
    let payload = src.bytes(name_end, contents.end - name_end)?;
    String::from_utf8(payload.into_owned())
        .map(Some)
        .map_err(|_| EmbeddedError::NotUtf8)
}

/// The sections laid end to end in `range` of `src`.
fn sections<S: Source + ?Sized>(src: &S, range: Range<u64>) -> Result<Vec<Section>, EmbeddedError> {
    let mut sections = Vec::new();
    let mut at = range.start;
    while at < range.end {
        // An id byte and at most 5 bytes of size.
        let head = src.bytes(at, 6)?;
        let (size, used) = head
            .get(1..)
            .and_then(read_leb128)
            .ok_or(malformed("a section size is malformed"))?;
        let start = at + 1 + used as u64;
        let end = start
            .checked_add(size)
            .filter(|end| *end <= range.end)
            .ok_or(malformed("a section runs past the end of its component"))?;
        sections.push(Section {
            id: head[0],
            start: at,
            contents: start..end,
        });
        at = end;
    }
    Ok(sections)
}

/// `component` with `manifest` embedded at its top level, replacing any
/// manifest there.
///
/// # Errors
/// As [`read`], and when the component's code already carries a manifest
/// (compiled in): two would be refused, and replacing the compiled one
/// needs a rebuild.
pub fn embed(component: &[u8], manifest: &str) -> Result<Vec<u8>, EmbeddedError> {
    if manifests(component)?.iter().any(|m| m.in_module) {
        return Err(EmbeddedError::CompiledIn);
    }
    let mut out = COMPONENT_HEADER.to_vec();
    for section in sections(component, COMPONENT_HEADER.len() as u64..component.len() as u64)? {
        if manifest_in(component, &section)?.is_none() {
            out.extend_from_slice(&component[to_usize(section.start)..to_usize(section.contents.end)]);
        }
    }
    let mut contents = Vec::new();
    leb128(&mut contents, SECTION.len() as u64);
    contents.extend_from_slice(SECTION.as_bytes());
    contents.extend_from_slice(manifest.as_bytes());
    out.push(CUSTOM);
    leb128(&mut out, contents.len() as u64);
    out.extend_from_slice(&contents);
    Ok(out)
}

/// An offset within bytes in memory (so it fits a `usize`).
fn to_usize(at: u64) -> usize {
    usize::try_from(at).expect("an offset within a slice")
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
mod tests;
