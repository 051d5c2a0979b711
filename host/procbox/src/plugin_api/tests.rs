//! `procbox:host/process` called as a plugin calls it, through the
//! generated host traits on a [`ProcessCtxView`], without wasm: what each
//! WIT function returns for a real process, a refused request and a bad
//! handle.

use std::ffi::OsStr;
use std::sync::Arc;
use std::time::Duration;

use wasmtime::component::{Resource, ResourceTable};
use wasmtime_wasi::p2::{DynInputStream, StreamError};

use crate::plugin_api::bindings::process::{self, Command, ExitStatus, Host, HostChild, Signal, Stdio, Termination};
use crate::plugin_api::child::Child;
use crate::plugin_api::ctx::{ProcessCtx, ProcessCtxView};
use crate::policy::PolicyBuilder;
use crate::resolve::SearchPath;
use crate::spawn::spawner::{Hooks, Spawner};

/// No test may take longer than this.
const TEST_DEADLINE: Duration = Duration::from_secs(60);

/// A plugin's process state and resource table, as the runtime keeps them
/// in its store, under a policy that grants only `allow`.
struct Plugin {
    ctx: ProcessCtx,
    table: ResourceTable,
}

impl Plugin {
    fn granted(allow: &[&str]) -> Plugin {
        let policy = allow
            .iter()
            .fold(
                PolicyBuilder::new()
                    .start_dir("/")
                    .search_path(SearchPath::parse(OsStr::new("/usr/bin:/bin"))),
                |policy, rule| policy.allow_run(rule),
            )
            .build()
            .expect("the test policy");
        Plugin {
            ctx: ProcessCtx::new(Spawner::new(Arc::new(policy), Hooks::default())),
            table: ResourceTable::new(),
        }
    }

    /// What the host functions operate on.
    fn view(&mut self) -> ProcessCtxView<'_> {
        ProcessCtxView {
            ctx: &mut self.ctx,
            table: &mut self.table,
        }
    }
}

/// `program args` with every stream `null` and no timeout, as the WIT
/// `command` record.
fn command(program: &str, args: &[&str]) -> Command {
    Command {
        program: program.into(),
        args: args.iter().map(|a| a.to_string()).collect(),
        env: Vec::new(),
        cwd: None,
        stdin: Stdio::Null,
        stdout: Stdio::Null,
        stderr: Stdio::Null,
        timeout: None,
        measure_tree: false,
    }
}

/// A borrow of `child`, as the plugin passes it to a method.
fn borrow(child: &Resource<Child>) -> Resource<Child> {
    Resource::new_borrow(child.rep())
}

/// Reads `stream` to its end, as `blocking-read` in a loop would.
async fn read_to_end(table: &mut ResourceTable, stream: &Resource<DynInputStream>) -> Vec<u8> {
    let stream = table.get_mut(stream).expect("the stream is in the table");
    let mut bytes = Vec::new();
    loop {
        match stream.blocking_read(64 * 1024).await {
            Ok(chunk) => bytes.extend_from_slice(&chunk),
            Err(StreamError::Closed) => return bytes,
            Err(other) => panic!("reading stdout: {other}"),
        }
    }
}

/// Whether a process with this pid exists, zombies included.
fn process_exists(pid: u32) -> bool {
    // Signal 0 only checks for existence.
    rustix::process::Pid::from_raw(pid as libc::pid_t)
        .is_some_and(|pid| rustix::process::test_kill_process(pid).is_ok())
}

#[tokio::test]
async fn spawn_take_stdout_read_and_wait() {
    tokio::time::timeout(TEST_DEADLINE, async {
        let mut plugin = Plugin::granted(&["echo"]);
        let mut view = plugin.view();
        let mut echo = command("echo", &["hello", "world"]);
        echo.stdout = Stdio::Piped;
        let child = view.spawn(echo).await.unwrap().expect("echo is granted");

        let stdout = view.take_stdout(borrow(&child)).await.unwrap().expect("piped");
        assert!(
            view.take_stdout(borrow(&child)).await.unwrap().is_none(),
            "stdout can be taken once"
        );
        assert!(
            view.take_stderr(borrow(&child)).await.unwrap().is_none(),
            "stderr was not piped"
        );
        assert_eq!(read_to_end(view.table, &stdout).await, b"hello world\n");

        let pid = view.pid(borrow(&child)).await.unwrap();
        let status: ExitStatus = view.wait(borrow(&child)).await.unwrap().expect("a status");
        assert!(matches!(status.termination, Termination::Exited(0)), "{status:?}");
        assert!(!status.timed_out && !status.output_truncated, "{status:?}");
        assert!(status.duration > 0, "{status:?}");
        let again = view.try_wait(borrow(&child)).await.unwrap().expect("no error");
        assert!(
            again.is_some_and(|s| matches!(s.termination, Termination::Exited(0))),
            "try-wait after wait returns the same status: {again:?}"
        );
        // `wait` reaped it: the pid is free, not a zombie.
        assert!(!process_exists(pid), "echo {pid} was not reaped");
        view.table.delete(stdout).unwrap();
        HostChild::drop(&mut view, child).await.unwrap();
    })
    .await
    .expect("test deadline");
}

#[tokio::test]
async fn dropping_the_child_handle_kills_and_reaps_it() {
    tokio::time::timeout(TEST_DEADLINE, async {
        let mut plugin = Plugin::granted(&["sleep"]);
        let mut view = plugin.view();
        let child = view.spawn(command("sleep", &["1000"])).await.unwrap().expect("granted");
        let pid = view.pid(borrow(&child)).await.unwrap();
        assert!(
            view.try_wait(borrow(&child)).await.unwrap().unwrap().is_none(),
            "running"
        );
        HostChild::drop(&mut view, child).await.unwrap();
        assert!(!process_exists(pid), "sleep {pid} outlived its handle");
    })
    .await
    .expect("test deadline");
}

#[tokio::test]
async fn a_refused_spawn_returns_the_wit_error_denied() {
    tokio::time::timeout(TEST_DEADLINE, async {
        let mut plugin = Plugin::granted(&["echo"]);
        let mut view = plugin.view();
        // An `Ok` from the host function: a refusal is a value for the
        // plugin, not a trap.
        let refused = view.spawn(command("rm", &["-rf", "/tmp/x"])).await.unwrap();
        match refused {
            Err(process::Error::Denied(message)) => {
                assert!(message.contains("rm -rf /tmp/x"), "names the request: {message}");
                assert!(message.contains("no allow rule grants"), "says why: {message}");
            }
            other => panic!("expected error::denied, got {other:?}"),
        }
        let missing = view.spawn(command("no-such-program-procbox", &[])).await.unwrap();
        assert!(matches!(missing, Err(process::Error::NotFound(_))), "{missing:?}");
    })
    .await
    .expect("test deadline");
}

#[tokio::test]
async fn a_forged_child_handle_traps() {
    tokio::time::timeout(TEST_DEADLINE, async {
        let mut plugin = Plugin::granted(&["sleep"]);
        let mut view = plugin.view();
        let child = view.spawn(command("sleep", &["1000"])).await.unwrap().expect("granted");
        let pid = view.pid(borrow(&child)).await.unwrap();

        // A number that is no handle at all.
        let forged = Resource::<Child>::new_borrow(child.rep() + 77);
        assert!(
            view.send_signal(forged, Signal::Kill).await.is_err(),
            "a trap, not a value"
        );
        // A handle to a resource of another type: the child's own stream.
        let mut sleep = command("sleep", &["1000"]);
        sleep.stdout = Stdio::Piped;
        let other = view.spawn(sleep).await.unwrap().expect("granted");
        let stream = view.take_stdout(borrow(&other)).await.unwrap().expect("piped");
        let forged = Resource::<Child>::new_borrow(stream.rep());
        assert!(view.kill(forged).await.is_err(), "a stream is not a child");
        // Neither reached a process: the first child still runs.
        assert!(view.try_wait(borrow(&child)).await.unwrap().unwrap().is_none());
        assert!(process_exists(pid));

        view.table.delete(stream).unwrap();
        HostChild::drop(&mut view, other).await.unwrap();
        let rep = child.rep();
        HostChild::drop(&mut view, child).await.unwrap();
        // A handle kept after its drop is as good as forged.
        let stale = Resource::<Child>::new_borrow(rep);
        assert!(view.send_signal(stale, Signal::Kill).await.is_err());
    })
    .await
    .expect("test deadline");
}

#[tokio::test]
async fn stdin_from_the_plugin_and_from_another_child() {
    tokio::time::timeout(TEST_DEADLINE, async {
        let mut plugin = Plugin::granted(&["cat"]);
        let mut view = plugin.view();
        let mut first = command("cat", &[]);
        first.stdin = Stdio::Piped;
        first.stdout = Stdio::Piped;
        let first = view.spawn(first).await.unwrap().expect("granted");
        // The second cat reads the first one's stdout, child to child.
        let mut second = command("cat", &[]);
        second.stdin = Stdio::ChildStdout(borrow(&first));
        second.stdout = Stdio::Piped;
        let second = view.spawn(second).await.unwrap().expect("granted");

        // That stdout is gone from the first child: the plugin cannot take
        // it, and passing it again is a request error, not a trap.
        assert!(view.take_stdout(borrow(&first)).await.unwrap().is_none());
        let mut third = command("cat", &[]);
        third.stdin = Stdio::ChildStdout(borrow(&first));
        let again = view.spawn(third).await.unwrap();
        assert!(matches!(again, Err(process::Error::InvalidInput(_))), "{again:?}");

        let stdin = view.take_stdin(borrow(&first)).await.unwrap().expect("piped");
        view.table
            .get_mut(&stdin)
            .unwrap()
            .blocking_write_and_flush(bytes::Bytes::from_static(b"through two cats\n"))
            .await
            .unwrap();
        // Dropping the stream closes the pipe: end-of-file for the first cat.
        view.table.delete(stdin).unwrap();
        let stdout = view.take_stdout(borrow(&second)).await.unwrap().expect("piped");
        assert_eq!(read_to_end(view.table, &stdout).await, b"through two cats\n");
        for child in [&first, &second] {
            let status = view.wait(borrow(child)).await.unwrap().expect("a status");
            assert!(matches!(status.termination, Termination::Exited(0)), "{status:?}");
        }
        view.table.delete(stdout).unwrap();
        HostChild::drop(&mut view, second).await.unwrap();
        HostChild::drop(&mut view, first).await.unwrap();
    })
    .await
    .expect("test deadline");
}
