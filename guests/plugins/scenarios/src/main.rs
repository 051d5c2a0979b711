//! Test plugin for the end-to-end tests: `scenarios NAME [ARGS]` runs one
//! scenario against real processes and prints `key=value` lines that the
//! tests assert.

use std::io::{BufRead, BufReader, Read, Write};
use std::time::Duration;

use procbox_sdk::{Command, Error, Queue, Signal, Stdio};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let name = args.first().map(String::as_str).unwrap_or("");
    let rest = &args[args.len().min(1)..];
    let result = match name {
        "echo" => echo(),
        "cat-round-trip" => cat_round_trip(mib(rest)),
        "read-write-traits" => read_write_traits(),
        "both-streams" => both_streams(mib(rest)),
        "exit-code" => exit_code(&rest[0]),
        "signalled" => signalled(),
        "send-signal" => send_signal(),
        "kill" => kill(),
        "try-wait" => try_wait(),
        "timeout" => timeout(),
        "spawn" => spawn_and_report(rest),
        "huge-args" => huge_args(),
        "drop-kills" => drop_kills(),
        "leave-running" => leave_running(),
        "trap-with-child" => trap_with_child(),
        "checked-failure" => checked_failure(),
        "output-flood" => output_flood(),
        "unbounded-sleep" => unbounded_sleep(),
        "many-children" => many_children(rest[0].parse().expect("a count")),
        "forge-handle" => forge_handle(rest[0].parse().expect("a handle number")),
        "read-file" => read_file(&rest[0]),
        "plugin-env" => plugin_env(),
        "spawn-with-env" => spawn_with_env(rest),
        "empty-stdin" => empty_stdin(),
        "spin-with-child" => spin_with_child(),
        "memory-bomb" => memory_bomb(),
        "hold-tree" => hold_tree(),
        "escaped-pipe" => escaped_pipe(),
        "flood" => flood(),
        "child-fds" => child_fds(),
        "pipeline" => pipeline(),
        "pipeline-fail" => pipeline_fail(),
        "pipeline-head" => pipeline_head(),
        "pipeline-middle-fails" => pipeline_middle_fails(),
        "quoting" => quoting(),
        "redirect" => redirect(&rest[0]),
        "inherit" => inherit(),
        "lines" => lines(),
        "decode" => decode(),
        "wait-any" => wait_any(),
        "queue" => queue(),
        "exit" => procbox_sdk::exit(rest[0].parse().expect("an exit code")),
        other => {
            eprintln!("unknown scenario {other:?}");
            std::process::exit(2);
        }
    };
    if let Err(err) = result {
        println!("error={err}");
        std::process::exit(1);
    }
}

fn mib(args: &[String]) -> usize {
    args.first().map_or(1, |a| a.parse().expect("a number of MiB")) * 1024 * 1024
}

/// Deterministic, incompressible-looking test data.
fn pattern(len: usize) -> Vec<u8> {
    let mut x: u32 = 0x9e37_79b9;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

fn echo() -> Result<(), Error> {
    let out = Command::new("echo").args(["hello", "world"]).output()?;
    println!("stdout={:?}", out.stdout_lossy());
    println!("code={:?}", out.status.code());
    println!("duration_ns_positive={}", !out.status.duration.is_zero());
    Ok(())
}

fn cat_round_trip(len: usize) -> Result<(), Error> {
    let data = pattern(len);
    let cat = Command::new("cat")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()?;
    let out = cat.communicate(&data)?;
    println!(
        "sent={} received={} equal={}",
        data.len(),
        out.stdout.len(),
        out.stdout == data
    );
    Ok(())
}

fn read_write_traits() -> Result<(), Error> {
    let mut cat = Command::new("cat")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()?;
    let mut stdin = cat.stdin.take().expect("piped");
    let mut stdout = BufReader::new(cat.stdout.take().expect("piped"));
    // One line at a time: each reply arrives while cat still runs.
    for i in 0..3 {
        writeln!(stdin, "line {i}")?;
        let mut reply = String::new();
        stdout.read_line(&mut reply)?;
        println!("reply={:?} running={}", reply, cat.try_wait()?.is_none());
    }
    drop(stdin);
    let mut rest = String::new();
    stdout.read_to_string(&mut rest)?;
    println!("rest={rest:?} code={:?}", cat.wait()?.code());
    Ok(())
}

fn both_streams(len: usize) -> Result<(), Error> {
    let data = pattern(len);
    let tee = Command::new("tee")
        .arg("/dev/stderr")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let out = tee.communicate(&data)?;
    println!(
        "stdout={} stderr={} equal={}",
        out.stdout.len(),
        out.stderr.len(),
        out.stdout == data && out.stderr == data
    );
    Ok(())
}

fn exit_code(code: &str) -> Result<(), Error> {
    let status = Command::new("sh")
        .args(["-c", &format!("exit {code}")])
        .unchecked()
        .status()?;
    println!(
        "code={:?} signal={:?} success={}",
        status.code(),
        status.signal(),
        status.success()
    );
    Ok(())
}

fn signalled() -> Result<(), Error> {
    let status = Command::new("sh").args(["-c", "kill -9 $$"]).unchecked().status()?;
    println!("code={:?} signal={:?}", status.code(), status.signal());
    Ok(())
}

fn send_signal() -> Result<(), Error> {
    let mut child = Command::new("sleep").arg("1000").spawn()?;
    child.signal(Signal::Terminate)?;
    let status = child.wait()?;
    println!("signal={:?}", status.signal());
    // Signalling a child that is gone is not an error.
    child.signal(Signal::Terminate)?;
    println!("second_signal=ok");
    Ok(())
}

fn kill() -> Result<(), Error> {
    let mut child = Command::new("sleep").arg("1000").spawn()?;
    child.kill()?;
    let status = child.wait()?;
    println!("signal={:?}", status.signal());
    child.kill()?;
    println!("second_kill=ok");
    Ok(())
}

fn try_wait() -> Result<(), Error> {
    let mut child = Command::new("sleep").arg("1000").spawn()?;
    println!("before={:?}", child.try_wait()?.map(|s| s.signal()));
    child.kill()?;
    child.wait()?;
    println!("after={:?}", child.try_wait()?.map(|s| s.signal()));
    Ok(())
}

fn timeout() -> Result<(), Error> {
    let status = Command::new("sleep")
        .arg("1000")
        .timeout(Duration::from_millis(200))
        .unchecked()
        .status()?;
    println!("timed_out={} signal={:?}", status.timed_out, status.signal());
    Ok(())
}

/// `spawn PROGRAM [ARGS]`: reports how a spawn request ended.
fn spawn_and_report(args: &[String]) -> Result<(), Error> {
    let result = Command::new(&args[0]).args(&args[1..]).unchecked().status();
    match result {
        Ok(status) => println!("status={status}"),
        Err(Error::Denied(m)) => println!("denied={m}"),
        Err(Error::NotFound(m)) => println!("not_found={m}"),
        Err(Error::InvalidInput(m)) => println!("invalid_input={m}"),
        Err(other) => println!("other={other}"),
    }
    Ok(())
}

/// Requests far beyond what `exec` accepts must be clear errors.
fn huge_args() -> Result<(), Error> {
    let long_argument = "x".repeat(200 * 1024);
    let many_arguments = vec!["y"; 100_000];
    for (name, args) in [("long", vec![long_argument.as_str()]), ("many", many_arguments)] {
        match Command::new("echo").args(args).output() {
            Err(Error::InvalidInput(m)) => println!("{name}=invalid_input: {m}"),
            other => println!("{name}=unexpected: {other:?}"),
        }
    }
    Ok(())
}

fn drop_kills() -> Result<(), Error> {
    let child = start_tree()?;
    let pid = child.id();
    println!("pid={pid}");
    drop(child);
    // Once drop returns the child is dead and reaped: ps finds nothing,
    // not even a zombie.
    let ps = Command::new("ps")
        .args(["-o", "stat=", "-p", &pid.to_string()])
        .unchecked()
        .output()?;
    println!("ps_code={:?} ps_out={:?}", ps.status.code(), ps.stdout_lossy().trim());
    Ok(())
}

/// Starts a tree and ends the plugin without waiting or dropping the handle.
fn leave_running() -> Result<(), Error> {
    std::mem::forget(start_tree()?);
    Ok(())
}

fn trap_with_child() -> Result<(), Error> {
    let tree = start_tree()?;
    std::mem::forget(tree);
    // An unreachable instruction: the plugin traps.
    core::arch::wasm32::unreachable()
}

/// `cat /dev/zero` never ends by itself: only the output cap stops it.
fn output_flood() -> Result<(), Error> {
    let out = Command::new("cat").arg("/dev/zero").unchecked().output()?;
    println!(
        "truncated={} stdout_len={} signal={:?}",
        out.status.output_truncated,
        out.stdout.len(),
        out.status.signal()
    );
    Ok(())
}

/// No timeout from the plugin: only the policy's ceiling stops it.
fn unbounded_sleep() -> Result<(), Error> {
    let status = Command::new("sleep").arg("1000").unchecked().status()?;
    println!("timed_out={} signal={:?}", status.timed_out, status.signal());
    Ok(())
}

/// Starts `count` children without waiting; reports where the limit hit.
fn many_children(count: usize) -> Result<(), Error> {
    let mut children = Vec::new();
    for i in 0..count {
        match Command::new("sleep").arg("1000").spawn() {
            Ok(child) => children.push(child),
            Err(err) => {
                println!("spawned={i}");
                println!("error={err}");
                return Ok(());
            }
        }
    }
    println!("spawned={count}");
    Ok(())
}

/// Raw bindings under a world of its own, so that its type information does
/// not collide with the SDK's.
mod raw {
    wit_bindgen::generate!({
        path: "../../../wit",
        inline: "package procbox:scenarios; world forge { import procbox:host/process@0.1.0; }",
        world: "procbox:scenarios/forge",
        generate_all,
    });
}

/// Forges a child handle from a bare number and tries to signal it. The
/// host must trap: a plugin can only signal children it holds.
fn forge_handle(handle: u32) -> Result<(), Error> {
    // SAFETY: deliberately unsound; that is the point of the scenario.
    let forged = unsafe { raw::procbox::host::process::Child::from_handle(handle) };
    let result = forged.send_signal(raw::procbox::host::process::Signal::Kill);
    println!("forged_signal_returned={result:?}");
    Ok(())
}

/// Reads a file through the plugin's own WASI filesystem.
fn read_file(path: &str) -> Result<(), Error> {
    match std::fs::read_to_string(path) {
        Ok(text) => println!("read_ok={}", text.trim()),
        Err(err) => println!("read_error={err}"),
    }
    Ok(())
}

/// Prints the plugin's own environment, one `env:NAME=VALUE` line each.
fn plugin_env() -> Result<(), Error> {
    let vars: Vec<(String, String)> = std::env::vars().collect();
    println!("plugin_env_count={}", vars.len());
    for (k, v) in vars {
        println!("env:{k}={v}");
    }
    Ok(())
}

/// `spawn-with-env NAME=VALUE PROGRAM [ARGS]`: runs the program with one
/// variable set and prints what it wrote.
fn spawn_with_env(args: &[String]) -> Result<(), Error> {
    let (name, value) = args[0].split_once('=').expect("NAME=VALUE");
    match Command::new(&args[1])
        .args(&args[2..])
        .env(name, value)
        .unchecked()
        .output()
    {
        Ok(out) => print!("{}", out.stdout_lossy()),
        Err(err) => println!("error={err}"),
    }
    Ok(())
}

/// `output()` with piped stdin and nothing to send must still close stdin.
fn empty_stdin() -> Result<(), Error> {
    let out = Command::new("cat").stdin(Stdio::piped()).output()?;
    println!("empty_stdin_out={:?}", out.stdout_lossy());
    Ok(())
}

/// Starts a tree, then spins forever without yielding.
fn spin_with_child() -> Result<(), Error> {
    let _tree = start_tree()?;
    let mut x: u64 = 0;
    loop {
        x = std::hint::black_box(x.wrapping_add(1));
    }
}

/// Starts a tree, then allocates (and touches) memory until it fails.
fn memory_bomb() -> Result<(), Error> {
    let _tree = start_tree()?;
    let mut hoard: Vec<Vec<u8>> = Vec::new();
    loop {
        hoard.push(vec![1u8; 16 << 20]);
        std::hint::black_box(&hoard);
    }
}

/// Starts a tree: a child, a grandchild in its process group, and one that
/// escaped the group with setsid. Prints `child= grandchild= escaped=`.
fn start_tree() -> Result<procbox_sdk::Child, Error> {
    let mut child = Command::new("sh")
        .args([
            "-c",
            "/usr/bin/setsid /usr/bin/sleep 1000 & echo $!; /usr/bin/sleep 1000 & echo $!; exec /usr/bin/sleep 1000",
        ])
        .stdout(Stdio::piped())
        .spawn()?;
    let mut lines = BufReader::new(child.stdout.take().expect("piped")).lines();
    let escaped = lines.next().transpose()?.unwrap_or_default();
    let grandchild = lines.next().transpose()?.unwrap_or_default();
    println!("child={} grandchild={grandchild} escaped={escaped}", child.id());
    Ok(child)
}

/// Starts a tree and waits forever.
fn hold_tree() -> Result<(), Error> {
    let _tree = start_tree()?;
    loop {
        std::thread::sleep(Duration::from_secs(1000));
    }
}

/// A grandchild escapes the group with setsid and keeps stdout open; reading
/// the child's output must still end when the child does.
fn escaped_pipe() -> Result<(), Error> {
    let out = Command::new("sh")
        .args(["-c", "/usr/bin/setsid /usr/bin/sleep 1000 & echo hi"])
        .output()?;
    println!("escaped_pipe_out={:?}", out.stdout_lossy());
    // The escapee writes without end: once the child is reaped, the stream
    // delivers what the pipe held then, and ends. The child exits only when
    // its stdin closes, which the plugin does once the escapee's output has
    // arrived: the escapee is writing when the child goes.
    let mut child = Command::new("sh")
        .args(["-c", "/usr/bin/setsid /usr/bin/yes escaped & echo hi; read _"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()?;
    let mut stdout = child.stdout.take().expect("piped");
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while !head.windows(8).any(|w| w == b"escaped\n") {
        match stdout.read(&mut buf).map_err(Error::from)? {
            0 => break,
            n => head.extend_from_slice(&buf[..n]),
        }
    }
    drop(child.stdin.take());
    let mut rest = Vec::new();
    stdout.read_to_end(&mut rest).map_err(Error::from)?;
    child.wait()?;
    let hi = String::from_utf8_lossy(&head).lines().any(|line| line == "hi");
    println!("escaped_writer has_hi={hi} after_exit_bytes={}", rest.len());
    let timed = Command::new("sh")
        .args(["-c", "/usr/bin/setsid /usr/bin/sleep 1000 & exec /usr/bin/sleep 1000"])
        .timeout(Duration::from_millis(300))
        .unchecked()
        .output()?;
    println!(
        "escaped_timeout timed_out={} signal={:?}",
        timed.status.timed_out,
        timed.status.signal()
    );
    Ok(())
}

/// A child writes as fast as it can; the plugin first never reads, then
/// reads slowly, then kills it.
fn flood() -> Result<(), Error> {
    let mut child = Command::new("cat").arg("/dev/zero").stdout(Stdio::piped()).spawn()?;
    std::thread::sleep(Duration::from_millis(700));
    let mut stdout = child.stdout.take().expect("piped");
    let mut buf = vec![0u8; 64 * 1024];
    let mut read = 0;
    for _ in 0..70 {
        read += stdout.read(&mut buf)?;
        std::thread::sleep(Duration::from_millis(10));
    }
    child.kill()?;
    println!("flood_read={read} signal={:?}", child.wait()?.signal());
    Ok(())
}

/// Lists the file descriptors a child sees.
fn child_fds() -> Result<(), Error> {
    let out = Command::new("ls").arg("/proc/self/fd").output()?;
    println!(
        "child_fds={}",
        out.stdout_lossy().split_whitespace().collect::<Vec<_>>().join(",")
    );
    Ok(())
}

/// `printf 'b\na\nb\n' | sort | uniq -c`, child to child.
fn pipeline() -> Result<(), Error> {
    let out = Command::new("printf")
        .arg("b\na\nb\n")
        .pipe(&Command::new("sort"))
        .pipe(&Command::new("uniq").arg("-c"))
        .output()?;
    let counts: Vec<String> = out
        .stdout_lossy()
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(":"))
        .collect();
    println!("pipeline_out={} stages={}", counts.join(","), out.statuses.len());
    Ok(())
}

/// Two failing stages: the error names the rightmost one.
fn pipeline_fail() -> Result<(), Error> {
    let result = Command::new("sh")
        .args(["-c", "echo x; exit 3"])
        .pipe(Command::new("sh").args(["-c", "cat >/dev/null; echo oops >&2; exit 4"]))
        .pipe(&Command::new("cat"))
        .output();
    match result {
        Err(err) => println!("pipeline_error={}", err.to_string().replace('\n', " / ")),
        Ok(out) => println!("pipeline_ok={:?}", out.statuses),
    }
    Ok(())
}

/// `seq 1 200000 | sort -rn | head -n 3`: `head` exits after three lines,
/// so `sort`, with about 1.3 MB still to write, is killed by SIGPIPE. The
/// pipeline succeeds anyway (the pipeline rule's SIGPIPE exception).
fn pipeline_head() -> Result<(), Error> {
    let out = Command::new("seq")
        .args(["1", "200000"])
        .pipe(Command::new("sort").arg("-rn"))
        .pipe(Command::new("head").args(["-n", "3"]))
        .output()?;
    println!("head_out={}", out.stdout_lossy().lines().collect::<Vec<_>>().join(","));
    let signals: Vec<String> = out.statuses.iter().map(|s| format!("{:?}", s.signal())).collect();
    println!("head_signals={}", signals.join(","));
    println!("head_failed_stage={:?}", out.failed_stage());
    Ok(())
}

/// A failing checked middle stage is reported, also when the last stage is
/// unchecked and fails too (duct's rule).
fn pipeline_middle_fails() -> Result<(), Error> {
    let mut middle = Command::new("sh");
    middle.args(["-c", "cat >/dev/null; echo middle broke >&2; exit 5"]);
    let checked = Command::new("seq")
        .args(["1", "1000"])
        .pipe(&middle)
        .pipe(&Command::new("cat"))
        .output();
    match checked {
        Err(err) => println!("middle_error={}", err.to_string().replace('\n', " / ")),
        Ok(out) => println!("middle_ok={:?}", out.statuses),
    }
    let with_unchecked_last = Command::new("seq")
        .args(["1", "1000"])
        .pipe(&middle)
        .pipe(Command::new("sh").args(["-c", "cat; exit 1"]).unchecked())
        .output();
    match with_unchecked_last {
        Err(err) => println!("duct_error={}", err.to_string().replace('\n', " / ")),
        Ok(out) => println!("duct_ok={:?}", out.statuses),
    }
    let all_unchecked = Command::new("seq")
        .args(["1", "1000"])
        .pipe(&middle)
        .pipe(&Command::new("cat"))
        .unchecked()
        .output()?;
    println!("unchecked_failed_stage={:?}", all_unchecked.failed_stage());
    Ok(())
}

/// A command line as the SDK shows it, next to the host's refusal of the
/// same command (`echo` is not granted), which shows it by the host's rule.
fn quoting() -> Result<(), Error> {
    let mut echo = Command::new("echo");
    echo.args([
        "plain",
        "",
        "two words",
        "tab\there",
        "it's",
        "say \"hi\"",
        "\u{1b}[31m",
        "ünï",
        "a\\b",
    ]);
    println!("shown={echo}");
    match echo.output() {
        Err(err) => println!("refused={err}"),
        Ok(out) => println!("ran={}", out.status),
    }
    Ok(())
}

/// Files as stdin/stdout, appending, and stderr merged into stdout.
fn redirect(dir: &str) -> Result<(), Error> {
    let file = format!("{dir}/out.txt");
    Command::new("echo").arg("hello").stdout(Stdio::file(&file)).status()?;
    Command::new("echo")
        .arg("again")
        .stdout(Stdio::append(&file))
        .status()?;
    let back = Command::new("cat").stdin(Stdio::file(&file)).output()?;
    println!("file_round_trip={:?}", back.stdout_lossy());
    let merged = Command::new("sh")
        .args(["-c", "echo out; echo err >&2"])
        .stderr_to_stdout()
        .output()?;
    println!("merged={:?}", merged.stdout_lossy());
    match Command::new("echo")
        .arg("x")
        .stdout(Stdio::file("/etc/procbox-escape"))
        .status()
    {
        Err(err) => println!("outside={err}"),
        Ok(status) => println!("outside_ok={status}"),
    }
    Ok(())
}

/// procbox's own stdout, if granted.
fn inherit() -> Result<(), Error> {
    match Command::new("echo")
        .arg("straight to the terminal")
        .stdout(Stdio::inherit())
        .status()
    {
        Ok(status) => println!("inherit_status={status}"),
        Err(err) => println!("inherit_error={err}"),
    }
    Ok(())
}

/// A 100-byte line among short ones, read with a 50-byte maximum.
fn lines() -> Result<(), Error> {
    let long = "x".repeat(100);
    let mut child = Command::new("printf")
        .args(["%s\\n%s\\n%s\\n", "short", &long, "after"])
        .stdout(Stdio::piped())
        .spawn()?;
    let items: Vec<String> = child
        .stdout
        .take()
        .expect("piped")
        .lines_with_max(50)
        .map(|line| match line {
            Ok(text) => text,
            Err(Error::LineTooLong { max }) => format!("<over {max}>"),
            Err(other) => format!("<{other}>"),
        })
        .collect();
    child.wait()?;
    println!("lines={}", items.join("|"));
    Ok(())
}

/// Text, JSON, input and read().
fn decode() -> Result<(), Error> {
    let json: serde_json::Value = Command::new("echo")
        .arg(r#"{"name":"procbox","n":3}"#)
        .output()?
        .json()?;
    println!(
        "json_name={} json_n={}",
        json["name"].as_str().unwrap_or("?"),
        json["n"]
    );
    let bad = Command::new("echo")
        .arg("not json")
        .output()?
        .json::<serde_json::Value>();
    println!("bad_json_is_decode_error={}", matches!(bad, Err(Error::Decode(_))));
    println!(
        "upper={}",
        Command::new("tr").args(["a-z", "A-Z"]).input("hello").read()?
    );
    let invalid = Command::new("printf").arg("\\377").output()?.stdout_text();
    println!(
        "invalid_utf8_is_decode_error={}",
        matches!(invalid, Err(Error::Decode(_)))
    );
    let failed = Command::new("sh")
        .args(["-c", "exit 2"])
        .current_dir(".")
        .status()
        .expect_err("exit 2");
    println!("failure_names_cwd={}", failed.to_string().contains("(in .)"));
    Ok(())
}

/// Any of several children, and a child against a deadline.
fn wait_any() -> Result<(), Error> {
    let mut slow = Command::new("sleep").arg("1000").spawn()?;
    let mut quick = Command::new("sleep").arg("0").spawn()?;
    let (index, status) = procbox_sdk::wait_any(&mut [&mut slow, &mut quick])?;
    println!("first={index} code={:?}", status.code());
    println!(
        "slow_after_200ms={:?}",
        slow.wait_timeout(Duration::from_millis(200))?.map(|s| s.code())
    );
    slow.kill()?;
    println!(
        "slow_after_kill={:?}",
        slow.wait_timeout(Duration::from_secs(30))?.map(|s| s.signal())
    );
    Ok(())
}

/// Parallel results in input order; fail-fast and keep-going.
fn queue() -> Result<(), Error> {
    // Later commands finish first.
    let commands = (0..6).map(|i| {
        let mut c = Command::new("sh");
        c.args(["-c", &format!("sleep 0.{}; echo {i}", 6 - i)]);
        c
    });
    let outputs: Vec<String> = Queue::new(commands)
        .parallel(3)
        .run()
        .into_iter()
        .map(|r| r.map(|o| o.stdout_trimmed()).unwrap_or_else(|e| e.to_string()))
        .collect();
    println!("parallel_in_order={}", outputs.join(","));
    let describe = |results: Vec<Result<procbox_sdk::Output, Error>>| {
        results
            .into_iter()
            .map(|r| match r {
                Ok(_) => "ok".to_string(),
                Err(Error::Failed(_)) => "failed".to_string(),
                Err(Error::Cancelled(_)) => "cancelled".to_string(),
                Err(other) => format!("{other}"),
            })
            .collect::<Vec<_>>()
            .join(",")
    };
    let mixed = || {
        let mut list = vec![
            Command::new("echo"),
            Command::new("false"),
            Command::new("sleep"),
            Command::new("echo"),
        ];
        list[2].arg("0.1");
        list
    };
    println!("fail_fast={}", describe(Queue::new(mixed()).run()));
    println!(
        "keep_going={}",
        describe(Queue::new(mixed()).keep_going().parallel(4).run())
    );
    Ok(())
}

fn checked_failure() -> Result<(), Error> {
    let err = Command::new("sh")
        .args(["-c", "echo one >&2; echo two >&2; exit 3"])
        .output()
        .expect_err("exit 3 is an error by default");
    println!("message={err}");
    Ok(())
}
