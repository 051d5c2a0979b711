//! The native baselines: tokio, a bare posix_spawn loop, the shell, Python.

use std::collections::HashMap;
use std::ffi::CString;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{ensure, Context, Result};

/// The real `python3` interpreter, not whatever wrapper PATH finds first.
pub(crate) fn python_executable() -> Result<PathBuf> {
    let out = std::process::Command::new("python3")
        .args(["-c", "import sys; print(sys.executable)"])
        .output()?;
    ensure!(out.status.success(), "python3 -c 'import sys' failed: {}", out.status);
    let path = PathBuf::from(String::from_utf8(out.stdout)?.trim());
    ensure!(
        path.is_file(),
        "python3 reports a missing interpreter: {}",
        path.display()
    );
    Ok(path)
}

/// Wasmtime's two instance allocators.
#[derive(Clone, Copy)]
pub(crate) enum Allocator {
    /// procbox's choice: memories and tables mapped per instance.
    OnDemand,
    /// Slots reserved up front and reused.
    Pooling,
}

/// Per-instantiation times of `wasm` (a store, an instance from an
/// `InstancePre`, and dropping both) under `allocator`, with imports that
/// would trap if called: this measures instantiation only, nothing runs.
pub(crate) fn instantiations(wasm: &[u8], allocator: Allocator, n: usize) -> Result<Vec<u128>> {
    use wasmtime::component::{Component, Linker};
    let mut config = wasmtime::Config::new();
    config.epoch_interruption(true); // as procbox's engine
    if let Allocator::Pooling = allocator {
        let mut pool = wasmtime::PoolingAllocationConfig::default();
        pool.total_component_instances(16)
            .total_core_instances(64)
            .total_memories(16)
            .total_tables(64);
        config.allocation_strategy(wasmtime::InstanceAllocationStrategy::Pooling(pool));
    }
    let engine = wasmtime::Engine::new(&config)?;
    let component = Component::new(&engine, wasm)?;
    let mut linker = Linker::<()>::new(&engine);
    linker.define_unknown_imports_as_traps(&component)?;
    let pre = linker.instantiate_pre(&component)?;
    let mut samples = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        let mut store = wasmtime::Store::new(&engine, ());
        store.set_epoch_deadline(u64::MAX / 2);
        pre.instantiate(&mut store)?;
        drop(store);
        samples.push(t.elapsed().as_nanos());
    }
    Ok(samples)
}

/// The `key=value` words of a result line.
pub(crate) fn fields(line: &str) -> HashMap<String, String> {
    line.split_whitespace()
        .filter_map(|w| w.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

pub(crate) fn null() -> std::process::Stdio {
    std::process::Stdio::null()
}

/// spawn + wait of /bin/true through tokio, per-iteration times.
pub(crate) async fn tokio_spawn_true(n: usize) -> Result<Vec<u128>> {
    let mut samples = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        let status = tokio::process::Command::new("/bin/true")
            .env_clear()
            .stdin(null())
            .stdout(null())
            .stderr(null())
            .status()
            .await?;
        samples.push(t.elapsed().as_nanos());
        ensure!(status.success(), "/bin/true failed");
    }
    Ok(samples)
}

/// The C-class loop: posix_spawn (glibc: clone(CLONE_VM|CLONE_VFORK)) and
/// waitpid, nothing else.
pub(crate) fn posix_spawn_true(n: usize) -> Result<Vec<u128>> {
    let path = CString::new("/bin/true")?;
    let argv = [path.as_ptr() as *mut libc::c_char, std::ptr::null_mut()];
    let envp = [std::ptr::null_mut::<libc::c_char>()];
    let mut samples = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        let mut pid: libc::pid_t = 0;
        // SAFETY: valid NUL-terminated path, argv and envp arrays that end
        // in NULL and outlive the call; no file actions or attributes.
        let rc = unsafe {
            libc::posix_spawn(
                &mut pid,
                path.as_ptr(),
                std::ptr::null(),
                std::ptr::null(),
                argv.as_ptr(),
                envp.as_ptr(),
            )
        };
        ensure!(rc == 0, "posix_spawn: {}", std::io::Error::from_raw_os_error(rc));
        let mut status = 0;
        loop {
            // SAFETY: waiting for our own child.
            let r = unsafe { libc::waitpid(pid, &mut status, 0) };
            if r == pid {
                break;
            }
            let err = std::io::Error::last_os_error();
            ensure!(err.kind() == std::io::ErrorKind::Interrupted, "waitpid: {err}");
        }
        samples.push(t.elapsed().as_nanos());
        ensure!(
            libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
            "/bin/true failed"
        );
    }
    Ok(samples)
}

/// (e)'s baseline: the same pipeline through `sh -c`, output captured,
/// per-iteration times.
pub(crate) async fn shell_pipeline(n: usize) -> Result<Vec<u128>> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut samples = Vec::with_capacity(n);
    let mut expected = None;
    for _ in 0..n {
        let t = Instant::now();
        let out = tokio::process::Command::new("sh")
            .args(["-c", "seq 1 100000 | grep 7 | wc -l"])
            .env_clear()
            .env("PATH", &path)
            .output()
            .await?;
        samples.push(t.elapsed().as_nanos());
        ensure!(out.status.success(), "sh -c 'seq | grep | wc' failed: {}", out.status);
        ensure!(
            *expected.get_or_insert_with(|| out.stdout.clone()) == out.stdout,
            "the shell pipeline printed different counts"
        );
    }
    Ok(samples)
}

/// `echo hello` captured through tokio, per-iteration times.
pub(crate) async fn tokio_capture_echo(n: usize) -> Result<Vec<u128>> {
    let mut samples = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        let out = tokio::process::Command::new("echo").arg("hello").output().await?;
        samples.push(t.elapsed().as_nanos());
        ensure!(out.status.success() && out.stdout == b"hello\n", "echo failed");
    }
    Ok(samples)
}

/// `n` /bin/true children in flight through tokio; spawns per second.
pub(crate) async fn tokio_burst(n: usize) -> Result<f64> {
    let start = Instant::now();
    let mut children = Vec::with_capacity(n);
    for _ in 0..n {
        children.push(
            tokio::process::Command::new("/bin/true")
                .env_clear()
                .stdin(null())
                .stdout(null())
                .stderr(null())
                .spawn()?,
        );
    }
    for child in &mut children {
        ensure!(child.wait().await?.success(), "/bin/true failed");
    }
    Ok(n as f64 / start.elapsed().as_secs_f64())
}

/// Reads `mib` MiB from `dd` through tokio with a 1 MiB buffer; GB/s.
/// The pipe (d)'s native reader reads from.
#[derive(Clone, Copy)]
pub(crate) enum Pipe {
    /// Linux's default, 64 KiB.
    Default,
    /// Grown with F_SETPIPE_SZ, as procbox grows a pipe that its plugin
    /// reads as fast as the child writes.
    OneMib,
}

pub(crate) async fn tokio_read(mib: u64, pipe: Pipe) -> Result<f64> {
    use std::os::fd::AsRawFd;
    use tokio::io::AsyncReadExt;
    let mut child = tokio::process::Command::new("dd")
        .args(["if=/dev/zero", "bs=1M", &format!("count={mib}"), "status=none"])
        .env_clear()
        .stdin(null())
        .stdout(std::process::Stdio::piped())
        .stderr(null())
        .spawn()?;
    let mut stdout = child.stdout.take().context("piped")?;
    if let Pipe::OneMib = pipe {
        // SAFETY: F_SETPIPE_SZ on the pipe we own; it changes only its size.
        let rc = unsafe { libc::fcntl(stdout.as_raw_fd(), libc::F_SETPIPE_SZ, 1 << 20) };
        ensure!(rc >= 0, "F_SETPIPE_SZ: {}", std::io::Error::last_os_error());
    }
    let mut buf = vec![0u8; 1 << 20];
    let mut bytes = 0u64;
    let start = Instant::now();
    loop {
        let got = stdout.read(&mut buf).await?;
        if got == 0 {
            break;
        }
        bytes += got as u64;
    }
    let elapsed = start.elapsed();
    ensure!(child.wait().await?.success(), "dd failed");
    ensure!(bytes == mib << 20, "short read: {bytes}");
    Ok(bytes as f64 / elapsed.as_nanos() as f64)
}

/// 1 GiB, every page written.
pub(crate) fn touched_gib() -> Vec<u8> {
    let mut ballast = vec![0u8; 1 << 30];
    for i in (0..ballast.len()).step_by(4096) {
        ballast[i] = 1;
    }
    std::hint::black_box(ballast)
}

/// Runs `make()` `runs` times to completion; per-run wall times.
pub(crate) fn time_process(make: &dyn Fn() -> std::process::Command, runs: usize) -> Result<Vec<u128>> {
    let mut samples = Vec::with_capacity(runs);
    for _ in 0..runs {
        let mut command = make();
        command.stdin(null()).stdout(null()).stderr(null());
        let t = Instant::now();
        let status = command.status()?;
        samples.push(t.elapsed().as_nanos());
        ensure!(status.success(), "{command:?} failed: {status}");
    }
    Ok(samples)
}
