//! Check-then-use races on paths, attacked for real: a thread swaps a
//! granted directory for a symlink to a directory outside, thousands of
//! times, while children are spawned into it and redirected into it. Zero
//! children may run outside, and zero files may appear outside.

use std::ffi::{CString, OsStr};
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use procbox::{Hooks, PolicyBuilder, Redirect, Redirects, SearchPath, SpawnRequest, Spawner};

const SPAWNS: usize = 10_000;

fn c(path: &Path) -> CString {
    CString::new(path.as_os_str().as_bytes()).unwrap()
}

/// Swaps `a` and `b` atomically until `stop` is set.
fn swapper(a: &Path, b: &Path, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<u64> {
    let (a, b) = (c(a), c(b));
    std::thread::spawn(move || {
        let mut swaps = 0;
        while !stop.load(Ordering::Relaxed) {
            // SAFETY: valid C strings; RENAME_EXCHANGE swaps two existing names.
            let rc = unsafe {
                libc::renameat2(
                    libc::AT_FDCWD,
                    a.as_ptr(),
                    libc::AT_FDCWD,
                    b.as_ptr(),
                    libc::RENAME_EXCHANGE,
                )
            };
            assert_eq!(rc, 0, "renameat2: {}", std::io::Error::last_os_error());
            swaps += 1;
        }
        swaps
    })
}

#[tokio::test]
async fn a_directory_swapped_for_a_symlink_never_lets_a_child_or_a_file_out() {
    let dir = tempfile::tempdir().unwrap();
    let top = dir.path().canonicalize().unwrap();
    let (root, outside) = (top.join("root"), top.join("outside"));
    std::fs::create_dir_all(root.join("sub")).unwrap();
    std::fs::create_dir(&outside).unwrap();
    std::os::unix::fs::symlink(&outside, root.join("link")).unwrap();
    let policy = PolicyBuilder::new()
        .start_dir(&root)
        .allow_dir(&root)
        // The stderr redirect writes a file: a write grant, as for children.
        .allow_write(&root)
        .search_path(SearchPath::parse(OsStr::new("/usr/bin:/bin")))
        .allow_run("pwd")
        .build()
        .unwrap();
    let spawner = Spawner::new(Arc::new(policy), Hooks::default());
    let stop = Arc::new(AtomicBool::new(false));
    let swaps = swapper(&root.join("sub"), &root.join("link"), stop.clone());
    let (mut ran, mut refused, mut escaped) = (0, 0, Vec::new());
    let work = async {
        for i in 0..SPAWNS {
            let request = SpawnRequest {
                program: "pwd".into(),
                args: vec!["-P".into()],
                cwd: Some("sub".into()),
                stdio: Redirects {
                    stdout: Redirect::Piped,
                    stderr: Redirect::File {
                        path: format!("err-{i}"),
                        append: false,
                    },
                    ..Redirects::default()
                },
                ..Default::default()
            };
            match spawner.spawn(request, None, || Ok(None)).await {
                Ok(mut spawned) => {
                    let mut out = String::new();
                    let pipe = spawned.pipes.stdout.take().expect("piped");
                    std::fs::File::from(pipe).read_to_string(&mut out).unwrap();
                    spawned.process.wait().await.unwrap();
                    ran += 1;
                    if !out.trim().starts_with(root.to_str().unwrap()) {
                        escaped.push(out.trim().to_string());
                    }
                }
                Err(e) => {
                    if refused == 0 {
                        eprintln!("first refusal: {e}");
                    }
                    refused += 1
                }
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(300), work)
        .await
        .expect("deadline");
    stop.store(true, Ordering::Relaxed);
    let swaps = swaps.join().unwrap();
    let files_outside: Vec<_> = std::fs::read_dir(&outside)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    eprintln!(
        "{SPAWNS} spawns, {swaps} swaps: {ran} ran, {refused} refused, {} escaped, {} files outside",
        escaped.len(),
        files_outside.len()
    );
    assert!(
        ran > 0 && refused > 0,
        "the race was not exercised: {ran} ran, {refused} refused"
    );
    assert!(
        escaped.is_empty(),
        "{} children ran outside: {:?}",
        escaped.len(),
        &escaped[..escaped.len().min(5)]
    );
    assert!(
        files_outside.is_empty(),
        "{} files created outside",
        files_outside.len()
    );
}
