//! Benchmark plugin: `bench SCENARIO [--n N] [--mib M] [--quick] [--out FILE]`.
//!
//! Each scenario runs its timed loop inside the plugin with
//! `std::time::Instant` and prints one machine-readable line,
//! `result scenario=NAME key=value ...`, to stdout and, with `--out FILE`,
//! appends it to FILE (the harness in `benches/` grants the plugin that
//! directory and reads the file back). `--quick` shrinks every loop so the
//! correctness test runs in well under a second.

use std::fmt::Write as _;
use std::io::{Read, Write};
use std::time::Instant;

use procbox_sdk::{Child, Command, Error, Pipeline, Stdio};

struct Args {
    scenario: String,
    n: Option<usize>,
    mib: Option<u64>,
    quick: bool,
    out: Option<String>,
}

fn parse_args() -> Args {
    let mut argv = std::env::args().skip(1);
    let mut args = Args {
        scenario: argv.next().unwrap_or_default(),
        n: None,
        mib: None,
        quick: false,
        out: None,
    };
    while let Some(flag) = argv.next() {
        let mut value = || argv.next().unwrap_or_else(|| usage(&format!("{flag} needs a value")));
        match flag.as_str() {
            "--n" => args.n = Some(value().parse().unwrap_or_else(|_| usage("--n takes a number"))),
            "--mib" => args.mib = Some(value().parse().unwrap_or_else(|_| usage("--mib takes a number"))),
            "--out" => args.out = Some(value()),
            "--quick" => args.quick = true,
            other => usage(&format!("unknown flag {other}")),
        }
    }
    args
}

fn usage(why: &str) -> ! {
    eprintln!("bench: {why}");
    eprintln!(
        "usage: bench noop|spawn_true|capture_echo|burst|read|pipeline|hold [--n N] [--mib M] [--quick] [--out FILE]"
    );
    procbox_sdk::exit(2)
}

fn main() {
    let args = parse_args();
    // (default count, quick count)
    let n = |default: usize, quick: usize| args.n.unwrap_or(if args.quick { quick } else { default });
    let result = match args.scenario.as_str() {
        "noop" => Ok(None),
        "spawn_true" => spawn_true(n(200, 5)).map(Some),
        "capture_echo" => capture_echo(n(200, 5)).map(Some),
        "burst" => burst(n(500, 10)).map(Some),
        "pipeline" => pipeline(n(50, 3)).map(Some),
        "read" => read(args.mib.unwrap_or(if args.quick { 4 } else { 2048 })).map(Some),
        "hold" => hold(n(500, 10)).map(Some),
        other => usage(&format!("unknown scenario {other:?}")),
    };
    match result {
        Ok(None) => {}
        Ok(Some(line)) => emit(&line, args.out.as_deref()),
        Err(err) => {
            println!("error scenario={} message={err}", args.scenario);
            procbox_sdk::exit(1);
        }
    }
}

/// Prints `line` and appends it to `out`, if given.
fn emit(line: &str, out: Option<&str>) {
    println!("{line}");
    if let Some(path) = out {
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .unwrap_or_else(|e| panic!("cannot open {path}: {e}"));
        writeln!(file, "{line}").unwrap_or_else(|e| panic!("cannot write {path}: {e}"));
    }
}

/// `result scenario=NAME n=N median_ns=… p90_ns=… min_ns=… total_ns=…` for
/// per-iteration timings.
fn latency_line(scenario: &str, mut samples: Vec<u128>, total_ns: u128) -> String {
    samples.sort_unstable();
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize];
    let mut line = format!("result scenario={scenario} n={}", samples.len());
    let _ = write!(
        line,
        " median_ns={} p90_ns={} min_ns={} total_ns={total_ns}",
        at(0.5),
        at(0.9),
        samples[0]
    );
    line
}

/// Times `n` runs of `once`, one sample each.
fn timed(n: usize, mut once: impl FnMut() -> Result<(), Error>) -> Result<(Vec<u128>, u128), Error> {
    let mut samples = Vec::with_capacity(n);
    let start = Instant::now();
    for _ in 0..n {
        let t = Instant::now();
        once()?;
        samples.push(t.elapsed().as_nanos());
    }
    Ok((samples, start.elapsed().as_nanos()))
}

/// (a), (f): spawn `/bin/true` with null stdio and wait for it, `n` times.
fn spawn_true(n: usize) -> Result<String, Error> {
    let command = Command::new("/bin/true");
    let (samples, total) = timed(n, || {
        let status = command.spawn()?.wait()?;
        expect(status.success(), "/bin/true failed")
    })?;
    Ok(latency_line("spawn_true", samples, total))
}

/// (b): capture `echo hello` with `output()`, `n` times.
fn capture_echo(n: usize) -> Result<String, Error> {
    let mut command = Command::new("echo");
    command.arg("hello");
    let (samples, total) = timed(n, || {
        let out = command.output()?;
        expect(out.stdout == b"hello\n", "echo printed something else")
    })?;
    Ok(latency_line("capture_echo", samples, total))
}

/// (c): start `n` `/bin/true` children, all in flight at once, then wait
/// for every one.
fn burst(n: usize) -> Result<String, Error> {
    let command = Command::new("/bin/true");
    let start = Instant::now();
    let mut children: Vec<Child> = Vec::with_capacity(n);
    for _ in 0..n {
        children.push(command.spawn()?);
    }
    let spawned = start.elapsed().as_nanos();
    for child in &mut children {
        let status = child.wait()?;
        expect(status.success(), "/bin/true failed")?;
    }
    let total = start.elapsed().as_nanos();
    let rate = n as f64 / (total as f64 / 1e9);
    Ok(format!(
        "result scenario=burst n={n} spawned_ns={spawned} total_ns={total} rate_per_s={rate:.1}"
    ))
}

/// (d): read `mib` MiB of a child's stdout (`dd` writing 1 MiB blocks)
/// through the SDK's `Read` implementation.
fn read(mib: u64) -> Result<String, Error> {
    let mut child = Command::new("dd")
        .args(["if=/dev/zero", "bs=1M", &format!("count={mib}"), "status=none"])
        .stdout(Stdio::piped())
        .spawn()?;
    let mut stdout = child.stdout.take().expect("stdout is piped");
    let mut buf = vec![0u8; 1 << 20];
    let mut bytes: u64 = 0;
    let start = Instant::now();
    loop {
        let got = stdout.read(&mut buf).map_err(Error::from)?;
        if got == 0 {
            break;
        }
        bytes += got as u64;
    }
    let total = start.elapsed().as_nanos();
    let status = child.wait()?;
    expect(status.success(), "dd failed")?;
    expect(bytes == mib << 20, "short read")?;
    let gbps = bytes as f64 / total as f64;
    Ok(format!(
        "result scenario=read bytes={bytes} total_ns={total} gb_per_s={gbps:.3}"
    ))
}

/// The 3-stage pipeline of (e); the harness runs the same one through `sh`.
const PIPELINE_SEQ_TO: &str = "100000";

/// (e): `seq 1 100000 | grep 7 | wc -l`, child to child, `n` times; the
/// plugin reads only `wc`'s output.
fn pipeline(n: usize) -> Result<String, Error> {
    let mut seq = Command::new("seq");
    seq.args(["1", PIPELINE_SEQ_TO]);
    let mut grep = Command::new("grep");
    grep.arg("7");
    let mut wc = Command::new("wc");
    wc.arg("-l");
    let mut expected = None;
    let (samples, total) = timed(n, || {
        let out = Pipeline::new(seq.clone()).pipe(&grep).pipe(&wc).output()?;
        let count = String::from_utf8_lossy(&out.stdout).trim().to_string();
        // Every run must count the same lines (40951 with GNU grep).
        expect(
            !count.is_empty() && *expected.get_or_insert(count.clone()) == count,
            "wc printed something else",
        )
    })?;
    let mut line = latency_line("pipeline", samples, total);
    let _ = write!(line, " lines={}", expected.unwrap_or_default());
    Ok(line)
}

/// (h): start `n` `sleep 1000` children and keep them; then spawn one
/// `/bin/true`, which tells an observer (the harness's spawn hook) that
/// all `n` are running. Dropping the handles at the end kills them.
fn hold(n: usize) -> Result<String, Error> {
    let sleep = {
        let mut c = Command::new("sleep");
        c.arg("1000");
        c
    };
    let mut children = Vec::with_capacity(n);
    for _ in 0..n {
        children.push(sleep.spawn()?);
    }
    Command::new("/bin/true").spawn()?.wait()?;
    let running = children
        .iter_mut()
        .map(|c| c.try_wait())
        .filter(|s| matches!(s, Ok(None)))
        .count();
    Ok(format!("result scenario=hold n={n} running={running}"))
}

fn expect(ok: bool, what: &str) -> Result<(), Error> {
    if ok {
        Ok(())
    } else {
        Err(Error::Io(what.to_string()))
    }
}
