//! The user's home directories: `$HOME`, and the account's home from the
//! password database, which a missing or changed `HOME` cannot hide. Both
//! hold what runs later (shell start-up files) and what must stay private
//! (`~/.ssh`), so every rule about "your home" takes both.

use std::ffi::CStr;
use std::path::{Path, PathBuf};

/// The canonical home directories: `env_home` (the value of `HOME`, already
/// canonical, if set) and the account's (see [`account_home`]), each once.
pub fn homes(env_home: Option<&Path>) -> Vec<PathBuf> {
    let mut homes: Vec<PathBuf> = env_home.map(Path::to_path_buf).into_iter().collect();
    if let Some(account) = account_home().and_then(|h| h.canonicalize().ok()) {
        if !homes.contains(&account) {
            homes.push(account);
        }
    }
    homes
}

/// The home directory of the effective user, from the password database
/// (`getpwuid_r`); `None` when the account has none or cannot be read.
pub fn account_home() -> Option<PathBuf> {
    use std::os::unix::ffi::OsStrExt;
    let mut buffer = vec![0u8; 16 << 10];
    let mut entry = libc::passwd {
        pw_name: std::ptr::null_mut(),
        pw_passwd: std::ptr::null_mut(),
        pw_uid: 0,
        pw_gid: 0,
        pw_gecos: std::ptr::null_mut(),
        pw_dir: std::ptr::null_mut(),
        pw_shell: std::ptr::null_mut(),
    };
    let mut result: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: getpwuid_r writes into `entry` and `buffer`, whose sizes are
    // given, and sets `result` to `&entry` or null.
    let status = unsafe {
        libc::getpwuid_r(
            rustix::process::geteuid().as_raw(),
            &mut entry,
            buffer.as_mut_ptr().cast(),
            buffer.len(),
            &mut result,
        )
    };
    if status != 0 || result.is_null() || entry.pw_dir.is_null() {
        return None;
    }
    // `pw_dir` points to a NUL-terminated string inside `buffer`: found
    // there by its offset, without reading through the pointer.
    let start = (entry.pw_dir as usize).checked_sub(buffer.as_ptr() as usize)?;
    let rest = buffer.get(start..)?;
    let dir = CStr::from_bytes_until_nul(rest).ok()?;
    let dir = Path::new(std::ffi::OsStr::from_bytes(dir.to_bytes()));
    (dir.is_absolute() && dir != Path::new("/")).then(|| dir.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_account_home_is_found_without_home_in_the_environment() {
        // The tests run as an account with a home (root's is /root).
        let account = account_home().expect("this account has a home");
        assert!(account.is_absolute(), "{}", account.display());
        let canonical = account.canonicalize().unwrap();
        assert!(homes(None).contains(&canonical));
        let elsewhere = std::env::temp_dir().canonicalize().unwrap();
        let both = homes(Some(&elsewhere));
        assert_eq!(both, [elsewhere, canonical]);
    }
}
