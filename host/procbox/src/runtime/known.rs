//! Digests remembered by what identifies a file's bytes without reading
//! them, so that an unchanged plugin (20 MB for a Python one) and its
//! compiled entry (40 MB) are not read and hashed on every run.
//!
//! A file's **stat key** is its device, inode, size, and modification and
//! change times to the nanosecond. A record (a one-line file in the cache
//! directory) says "the file with this key hashed to this digest". A run
//! that finds the key unchanged uses the digest; any other key means the
//! file is read and hashed again. Changing a file's bytes changes its key:
//! a write sets the change time (ctime), which no user can set back (`touch
//! -d` sets the mtime and moves the ctime to now), and a file replaced by
//! rename has another inode.
//!
//! **Racy clean** (as git calls it): file times have a granularity, so a
//! change made in the same tick as the hash leaves the key as it was. A
//! record is therefore trusted only when the file's mtime and ctime are
//! [`SETTLED`] older than the moment its hashing started: any write after
//! that moment stamps a time at or after it. Such a record is not even
//! written; the file is hashed again next time, until it has settled.
//!
//! Records live in the private cache directory and are trusted only as its
//! entries are (`runtime/private.rs`); each is replaced by rename, never edited.
//!
//! What the rule rests on: a ctime that moves with every write. Root can
//! set the clock back, and a few file systems keep a time a user can set
//! in its place (FAT's creation time after a remount, some FUSE ones); on
//! those a record can outlive a change. For a plugin that can still not
//! run other bytes under its old identity (its code comes from the entry
//! of the recorded digest, or from bytes checked against it,
//! `PluginFile::bytes`); only its embedded manifest is read from the file
//! as it is.

use std::cell::Cell;
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::{Duration, SystemTime};

use crate::runtime::private;

/// How much older than a record a file's times must be for the record to
/// be trusted. Linux stamps files from a coarse clock, and the coarsest
/// file system times are FAT's 2 s; so a write made after a record's
/// hashing started can never carry a time 2 s before that start.
pub(crate) const SETTLED: Duration = Duration::from_secs(2);

/// The first word of every record, naming its format.
const FORMAT: &str = "procbox-known-1";

/// The most a record file may hold (one line is about 180 bytes).
const MAX_RECORD: u64 = 1024;

thread_local! {
    /// Bytes this thread has hashed (plugins and entries), for tests that
    /// show an unchanged plugin is not read.
    static HASHED: Cell<u64> = const { Cell::new(0) };
}

/// What identifies a file's bytes without reading them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct StatKey {
    dev: u64,
    ino: u64,
    size: u64,
    mtime_ns: i128,
    ctime_ns: i128,
}

impl StatKey {
    pub(crate) fn of(meta: &std::fs::Metadata) -> StatKey {
        let ns = |secs: i64, nanos: i64| i128::from(secs) * 1_000_000_000 + i128::from(nanos);
        StatKey {
            dev: meta.dev(),
            ino: meta.ino(),
            size: meta.size(),
            mtime_ns: ns(meta.mtime(), meta.mtime_nsec()),
            ctime_ns: ns(meta.ctime(), meta.ctime_nsec()),
        }
    }

    /// Whether the file was last changed [`SETTLED`] before `started`, so
    /// that a digest taken from `started` on is its bytes' for good.
    pub(crate) fn settled_before(&self, started: SystemTime) -> bool {
        let limit = nanos_since_epoch(started) - SETTLED.as_nanos() as i128;
        self.mtime_ns <= limit && self.ctime_ns <= limit
    }
}

/// `time` in nanoseconds since the epoch (negative before it).
/// A record's one line: `key` hashed to `digest`, hashing started at
/// `started_ns` (nanoseconds since the epoch).
fn record_line(key: &StatKey, started_ns: i128, digest: &blake3::Hash) -> String {
    format!(
        "{FORMAT} {} {} {} {} {} {started_ns} {}\n",
        key.dev,
        key.ino,
        key.size,
        key.mtime_ns,
        key.ctime_ns,
        digest.to_hex()
    )
}

fn nanos_since_epoch(time: SystemTime) -> i128 {
    match time.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(after) => after.as_nanos() as i128,
        Err(before) => -(before.duration().as_nanos() as i128),
    }
}

/// The BLAKE3 digest of `bytes`, counted in [`hashed_bytes`].
pub(crate) fn hash(bytes: &[u8]) -> blake3::Hash {
    HASHED.with(|n| n.set(n.get() + bytes.len() as u64));
    blake3::hash(bytes)
}

/// How many bytes this thread has hashed so far (plugins and cache
/// entries). Tests use it to show that an unchanged plugin is not read.
#[doc(hidden)]
pub fn hashed_bytes() -> u64 {
    HASHED.with(Cell::get)
}

/// The digest the record at `path` holds for a file with `key`, if the
/// record is private, well formed, for this very key, and settled.
pub(crate) fn lookup(path: &Path, key: &StatKey) -> Option<blake3::Hash> {
    let (file, _) = private::open_file(path).ok()??;
    let mut text = String::new();
    file.take(MAX_RECORD).read_to_string(&mut text).ok()?;
    let (recorded, digest, started) = parse(&text)?;
    (recorded == *key && key.settled_before(started)).then_some(digest)
}

/// Records that the file with `key` hashed to `digest`, hashing having
/// started at `started`; not at all if the file had not settled by then
/// (see the module's docs), as such a record would never be trusted.
///
/// # Errors
/// The record cannot be written (the caller only loses time).
pub(crate) fn record(path: &Path, key: &StatKey, digest: &blake3::Hash, started: SystemTime) -> std::io::Result<()> {
    if !key.settled_before(started) {
        return Ok(());
    }
    private::replace(path, &[record_line(key, nanos_since_epoch(started), digest).as_bytes()])
}

/// A record's key, digest and start of hashing; `None` if malformed.
fn parse(text: &str) -> Option<(StatKey, blake3::Hash, SystemTime)> {
    let mut words = text.strip_suffix('\n')?.split(' ');
    if words.next()? != FORMAT {
        return None;
    }
    let mut number = || words.next()?.parse::<i128>().ok();
    let (dev, ino, size) = (number()?, number()?, number()?);
    let (mtime_ns, ctime_ns, started_ns) = (number()?, number()?, number()?);
    let digest = blake3::Hash::from_hex(words.next()?).ok()?;
    if words.next().is_some() {
        return None;
    }
    let key = StatKey {
        dev: dev.try_into().ok()?,
        ino: ino.try_into().ok()?,
        size: size.try_into().ok()?,
        mtime_ns,
        ctime_ns,
    };
    let started = SystemTime::UNIX_EPOCH.checked_add(Duration::from_nanos(started_ns.try_into().ok()?))?;
    Some((key, digest, started))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key_of(path: &Path) -> StatKey {
        StatKey::of(&std::fs::metadata(path).unwrap())
    }

    /// A time well after `key`'s file settled.
    fn later() -> SystemTime {
        SystemTime::now() + Duration::from_secs(60)
    }

    #[test]
    fn a_settled_record_is_trusted_for_its_key_only() {
        let dir = tempfile::tempdir().unwrap();
        let (file, rec) = (dir.path().join("f"), dir.path().join("f.known"));
        std::fs::write(&file, b"one").unwrap();
        let key = key_of(&file);
        let digest = blake3::hash(b"one");
        record(&rec, &key, &digest, later()).unwrap();
        assert_eq!(lookup(&rec, &key), Some(digest));
        let other = StatKey { size: 4, ..key };
        assert_eq!(lookup(&rec, &other), None, "another size");
        let other = StatKey {
            ctime_ns: key.ctime_ns + 1,
            ..key
        };
        assert_eq!(lookup(&rec, &other), None, "another ctime");
        let other = StatKey {
            ino: key.ino + 1,
            ..key
        };
        assert_eq!(lookup(&rec, &other), None, "another inode");
    }

    /// git's racy clean: a file whose times are not older than the record
    /// could have changed in the record's own tick, unseen.
    #[test]
    fn a_record_from_the_files_own_tick_is_not_trusted() {
        let dir = tempfile::tempdir().unwrap();
        let (file, rec) = (dir.path().join("f"), dir.path().join("f.known"));
        std::fs::write(&file, b"one").unwrap();
        let key = key_of(&file);
        let digest = blake3::hash(b"one");
        // Hashing that started in the file's own tick is not recorded...
        let tick = SystemTime::UNIX_EPOCH + Duration::from_nanos(key.mtime_ns as u64);
        record(&rec, &key, &digest, tick).unwrap();
        assert!(!rec.exists(), "nothing recorded for an unsettled file");
        // ...and such a record, written anyway, is not trusted.
        let line = record_line(&key, key.mtime_ns, &digest);
        private::replace(&rec, &[line.as_bytes()]).unwrap();
        assert_eq!(lookup(&rec, &key), None, "mtime equal to the record's time");
        let just_after = tick + SETTLED - Duration::from_nanos(1);
        assert!(!key.settled_before(just_after), "within the margin");
        assert!(key.settled_before(tick + SETTLED + Duration::from_secs(1)));
    }

    #[test]
    fn malformed_or_foreign_records_are_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let rec = dir.path().join("r");
        let key = StatKey {
            dev: 1,
            ino: 2,
            size: 3,
            mtime_ns: 4,
            ctime_ns: 5,
        };
        let digest = blake3::hash(b"x").to_hex();
        for text in [
            String::new(),
            "garbage\n".into(),
            format!("{FORMAT} 1 2 3 4 5 {} {digest}\n", 60_000_000_000u64),
        ] {
            std::fs::write(&rec, &text).unwrap();
            let trusted = lookup(&rec, &key);
            assert_eq!(trusted.is_some(), text.ends_with(&format!("{digest}\n")), "{text:?}");
        }
        // Others may write it: not trusted, however well formed.
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&rec, std::fs::Permissions::from_mode(0o666)).unwrap();
        assert_eq!(lookup(&rec, &key), None);
        std::fs::set_permissions(&rec, std::fs::Permissions::from_mode(0o600)).unwrap();
        std::fs::write(&rec, format!("{FORMAT} 1 2 3 4 5 60000000000 {digest} more\n")).unwrap();
        assert_eq!(lookup(&rec, &key), None, "trailing words");
    }
}
