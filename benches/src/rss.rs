//! Memory per running child, measured in a child process of its own.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use anyhow::{bail, ensure, Context, Result};

use super::baselines::*;
use super::*;

/// This process's resident set, in KiB.
pub(crate) fn vm_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

/// Runs `procbox-bench rss-child KIND N` and returns its RSS growth in KiB.
pub(crate) async fn rss_in_child(kind: &str, n: usize) -> Result<u64> {
    let out = tokio::process::Command::new(std::env::current_exe()?)
        .args(["rss-child", kind, &n.to_string()])
        .stdin(null())
        .stderr(std::process::Stdio::inherit())
        .output()
        .await?;
    ensure!(out.status.success(), "rss-child {kind} failed: {}", out.status);
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find(|l| l.starts_with("rss "))
        .with_context(|| format!("rss-child {kind} printed no rss line: {text}"))?;
    let f = fields(line);
    let get = |k: &str| -> Result<u64> { Ok(f.get(k).context("rss field")?.parse()?) };
    Ok(get("during_kib")?.saturating_sub(get("before_kib")?))
}

/// Samples VmRSS at the first spawn decision and at decision `at`.
pub(crate) struct RssProbe {
    decisions: AtomicUsize,
    at: usize,
    samples: Mutex<(u64, u64)>,
}

impl Observer for RssProbe {
    fn on_verdict(&self, _: &SpawnRequest, _: Result<&Decision, &SpawnError>) {
        let k = self.decisions.fetch_add(1, Ordering::SeqCst) + 1;
        if k == 1 {
            self.samples.lock().unwrap().0 = vm_rss_kib();
        } else if k == self.at {
            self.samples.lock().unwrap().1 = vm_rss_kib();
        }
    }
}

/// The body of `rss-child`: prints `rss before_kib=… during_kib=… n=…`.
pub(crate) async fn rss_child(kind: &str, n: usize) -> Result<()> {
    let (before, during) = match kind {
        "procbox" => {
            let runtime = Runtime::new()?;
            let plugin = runtime.load_file(Path::new(BENCH_WASM))?;
            let probe = Arc::new(RssProbe {
                decisions: AtomicUsize::new(0),
                at: n + 1,
                samples: Mutex::new((0, 0)),
            });
            let policy = PolicyBuilder::new()
                .allow_run("sleep 1000")
                .allow_run("/bin/true")
                .limits(Limits {
                    max_children: Some(n + 10),
                    ..Limits::default()
                })
                .build()?;
            let options = RunOptions::new(Arc::new(policy))
                .args(["hold".to_string(), "--n".into(), n.to_string()])
                .observer(probe.clone());
            // The plugin prints its result line; keep this process's stdout
            // for the rss line only.
            let outcome = runtime.run(&plugin, options).await?;
            ensure!(outcome == Outcome::Exited(0), "hold ended with {outcome:?}");
            let samples = *probe.samples.lock().unwrap();
            samples
        }
        "tokio" => {
            // Warm the process driver with one child first, as the plugin's
            // first decision comes after the runtime is up.
            tokio::process::Command::new("/bin/true").status().await?;
            let before = vm_rss_kib();
            let mut children = Vec::with_capacity(n);
            for _ in 0..n {
                children.push(
                    tokio::process::Command::new("sleep")
                        .arg("1000")
                        .env_clear()
                        .stdin(null())
                        .stdout(null())
                        .stderr(null())
                        .kill_on_drop(true)
                        .spawn()?,
                );
            }
            let during = vm_rss_kib();
            for child in &mut children {
                child.kill().await?;
            }
            (before, during)
        }
        other => bail!("rss-child: unknown kind {other}"),
    };
    println!("rss before_kib={before} during_kib={during} n={n}");
    Ok(())
}
