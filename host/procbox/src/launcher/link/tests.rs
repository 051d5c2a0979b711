//! The link against socket pairs and stand-in launchers: replies in any
//! order, a hello checked first, a launcher that dies.

use super::*;

use wire::Failure;

const DEADLINE: Duration = Duration::from_secs(30);

/// Runs `test` on a runtime with one thread, itself on a thread of its
/// own, and fails if it has not finished by the deadline: a test whose
/// runtime thread is blocked fails rather than hangs.
fn on_one_thread<F: std::future::Future<Output = ()> + 'static>(test: impl FnOnce() -> F + Send + 'static) {
    let (done, finished) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(test());
        let _ = done.send(());
    });
    finished
        .recv_timeout(DEADLINE)
        .expect("the test finished before the deadline");
}

fn request(tag: usize) -> Request {
    Request {
        id: 0,
        program: b"/bin/true".to_vec(),
        arg0: "true".into(),
        args: vec![tag.to_string()],
        env: Vec::new(),
        new_session: true,
        rlimits: Vec::new(),
        die_with: None,
        cwd_path: Vec::new(),
        join_cgroups: Vec::new(),
        plan_id: 1,
        plan: None,
    }
}

/// Receives one request as a launcher does: the request, and the socket
/// its reply goes to (the last of its descriptors, after the child's).
fn receive(socket: BorrowedFd<'_>) -> Option<(Request, OwnedFd)> {
    let (request, mut fds) = wire::recv::<Request>(socket).unwrap()?;
    assert_eq!(fds.len(), wire::FDS + 1, "the child's descriptors and the reply socket");
    Some((request, fds.pop().unwrap()))
}

/// Answers `request` on its reply socket, as a launcher does.
fn answer(request: &Request, reply_to: &OwnedFd, reply: Reply) {
    wire::send(reply_to.as_fd(), &Replied { id: request.id, reply }, &[]).unwrap();
}

/// A launcher's half of the protocol, on a thread: reads `count`
/// requests, waits for `go`, then answers them in reverse order, each
/// naming its request's tag.
fn reversing_launcher(socket: OwnedFd, count: usize, go: std::sync::mpsc::Receiver<()>) {
    std::thread::spawn(move || {
        let mut asked = Vec::new();
        for _ in 0..count {
            asked.push(receive(socket.as_fd()).unwrap());
        }
        go.recv().unwrap();
        for (request, reply_to) in asked.into_iter().rev() {
            let reply = Reply::Failed(Failure::Request(format!("answer to {}", request.args[0])));
            answer(&request, &reply_to, reply);
        }
    });
}

fn pair() -> (OwnedFd, OwnedFd) {
    use rustix::net::{socketpair, AddressFamily, SocketFlags, SocketType};
    socketpair(AddressFamily::UNIX, SocketType::STREAM, SocketFlags::CLOEXEC, None).unwrap()
}

/// Many requests in flight on one socket, answered in the reverse
/// order: each spawn gets its own reply. All of it on a runtime with a
/// single thread, where the launcher answers only once a task of that
/// runtime says so: a spawn that blocked the thread while it waited
/// would never let that task run (the deadline would fail the test).
#[test]
fn replies_in_any_order_reach_their_own_spawns_without_blocking_the_runtime() {
    const IN_FLIGHT: usize = 64;
    on_one_thread(|| async {
        {
            let (ours, theirs) = pair();
            let (go, wait_for_go) = std::sync::mpsc::channel();
            reversing_launcher(theirs, IN_FLIGHT, wait_for_go);
            let link = Link::start(ours, 0, false).unwrap();
            let null = std::fs::File::open("/dev/null").unwrap();
            let null = Arc::new(OwnedFd::from(null));
            let mut asking = tokio::task::JoinSet::new();
            for tag in 0..IN_FLIGHT {
                let (link, null) = (link.clone(), null.clone());
                asking.spawn(async move {
                    let fds = [null.as_fd(); wire::FDS];
                    (tag, link.ask(&mut request(tag), &fds).await.unwrap())
                });
            }
            // Runs only if no spawn holds the one thread.
            tokio::spawn(async move { go.send(()).unwrap() });
            let mut answered = 0;
            while let Some(done) = asking.join_next().await {
                let (tag, reply) = done.unwrap();
                assert_eq!(reply, Reply::Failed(Failure::Request(format!("answer to {tag}"))));
                answered += 1;
            }
            assert_eq!(answered, IN_FLIGHT);
            assert_eq!(link.in_flight(), 0, "every request settled once");
            link.shut_down();
        }
    });
}

/// A launcher started early has its hello read by the link's thread:
/// a request asked before it waits until the hello is checked, and a
/// program that says the wrong hello never sees a request, is killed,
/// and its spawn learns why.
#[test]
fn the_hello_of_a_launcher_started_early_is_checked_before_any_request() {
    on_one_thread(|| async {
        let null = OwnedFd::from(std::fs::File::open("/dev/null").unwrap());
        let fds = [null.as_fd(); wire::FDS];
        for protocol in [wire::PROTOCOL, wire::PROTOCOL + 1] {
            // Stands in for the launcher's process.
            let mut process = quiet_sleep();
            let _killed = KilledOnDrop(crate::sys::pidfd::pidfd_open(process.id() as libc::pid_t).unwrap());
            let (ours, theirs) = pair();
            let link = Link::start(ours, process.id() as libc::pid_t, true).unwrap();
            // A failing assertion must still end the stand-in's wait.
            let _shut = ShutDownOnDrop(link.clone());
            let (go, asked_first) = std::sync::mpsc::channel::<()>();
            let launcher = tokio::task::spawn_blocking(move || {
                asked_first.recv().unwrap();
                wire::send(theirs.as_fd(), &wire::Hello { protocol }, &[]).unwrap();
                // A request, or the end of the socket once the test
                // shuts its link down.
                let asked = receive(theirs.as_fd());
                if let Some((request, reply_to)) = &asked {
                    answer(request, reply_to, Reply::Failed(Failure::Request("answered".into())));
                }
                asked.is_some()
            });
            // The request is asked (and waits in the outbox: its first poll
            // sends or queues it) before the hello is sent.
            let mut asked = request(1);
            let asking = link.ask(&mut asked, &fds);
            tokio::pin!(asking);
            tokio::select! {
                biased;
                answer = &mut asking => panic!("answered before the hello: {answer:?}"),
                () = std::future::ready(()) => go.send(()).unwrap(),
            }
            let answer = asking.await;
            if protocol == wire::PROTOCOL {
                assert_eq!(answer.unwrap(), Reply::Failed(Failure::Request("answered".into())));
                assert!(link.refusal().is_none());
                link.shut_down();
                assert!(launcher.await.unwrap(), "the launcher got the request");
                process.kill().unwrap();
                process.wait().unwrap();
            } else {
                assert!(matches!(answer, Err(Unanswered::Lost)), "{answer:?}");
                let refusal = link.refusal().expect("the wrong hello is the reason").to_string();
                assert!(refusal.contains("did not start as procbox's launcher"), "{refusal}");
                assert!(refusal.contains(&format!("protocol {protocol}")), "{refusal}");
                link.shut_down();
                assert!(
                    !launcher.await.unwrap(),
                    "a program that is not a launcher got a request"
                );
                use std::os::unix::process::ExitStatusExt;
                assert_eq!(process.wait().unwrap().signal(), Some(libc::SIGKILL));
            }
        }
    });
}

/// A launcher that dies with requests in flight: each spawn learns it
/// (none waits forever), and a later request is refused as not sent.
#[test]
fn a_launcher_that_dies_fails_every_waiting_spawn_and_takes_no_more() {
    on_one_thread(|| async {
        {
            let (ours, theirs) = pair();
            let link = Link::start(ours, 0, false).unwrap();
            let null = OwnedFd::from(std::fs::File::open("/dev/null").unwrap());
            let fds = [null.as_fd(); wire::FDS];
            let dies = async {
                // The request is on the socket; the launcher reads it
                // and exits without answering.
                let (request, _) = tokio::task::spawn_blocking(move || {
                    let received = receive(theirs.as_fd()).unwrap();
                    drop(theirs);
                    received
                })
                .await
                .unwrap();
                request
            };
            let mut first = request(1);
            let (answer, _) = tokio::join!(link.ask(&mut first, &fds), dies);
            assert!(matches!(answer, Err(Unanswered::Lost)), "{answer:?}");
            // The link's thread has closed it by the time the loss was
            // reported.
            let later = link.ask(&mut request(2), &fds).await;
            assert!(matches!(later, Err(Unanswered::NotSent(_))), "{later:?}");
        }
    });
}

/// A spawn cancelled while the launcher starts its child: the child is
/// no one's, and the link (reading the reply the spawn left behind) kills
/// and reaps it rather than leave it running unwatched.
#[test]
fn the_child_of_a_cancelled_spawn_is_killed_and_reaped() {
    on_one_thread(|| async {
        let scene = starting(Socket::KeptOpen);
        let fds = [scene.null.as_fd(); wire::FDS];
        let mut asking = request(1);
        tokio::select! {
            answer = scene.link.ask(&mut asking, &fds) => panic!("answered before the launcher replied: {answer:?}"),
            got = scene.got_request => got.unwrap(),
        }
        // The spawn is dropped: its reply comes now.
        scene.cancelled.send(()).unwrap();
        scene.launcher.join().unwrap();
        assert_killed_and_reaped(&scene.exited, scene.pid, &scene.link);
        drop(scene.child);
        scene.link.shut_down();
    });
}

/// A child's pidfd that kills the child when dropped, so that a failing
/// test leaves nothing running (signalling a pidfd never reaches a reused
/// pid).
struct KilledOnDrop(OwnedFd);

impl Drop for KilledOnDrop {
    fn drop(&mut self) {
        let _ = rustix::process::pidfd_send_signal(&self.0, rustix::process::Signal::KILL);
    }
}

/// A `sleep 1000` standing in for a process, its output away from the
/// test's (a leaked one would hold the harness's pipe open).
fn quiet_sleep() -> std::process::Child {
    std::process::Command::new("sleep")
        .arg("1000")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap()
}

/// Shuts a link down when dropped, so that a stand-in launcher blocked
/// reading its socket ends when a test fails.
struct ShutDownOnDrop(Arc<Link>);

impl Drop for ShutDownOnDrop {
    fn drop(&mut self) {
        self.0.shut_down();
    }
}

/// The child behind `exited` (`pid`) was killed (within a third of the
/// deadline, so that this failure, not the runtime's, is reported),
/// reaped by the link and forgotten, and its request settled exactly once.
fn assert_killed_and_reaped(exited: &KilledOnDrop, pid: libc::pid_t, link: &Link) {
    let bound = DEADLINE / 3;
    let mut polled = [PollFd::new(&exited.0, PollFlags::IN)];
    let timeout = rustix::event::Timespec {
        tv_sec: bound.as_secs() as i64,
        tv_nsec: 0,
    };
    assert_eq!(
        poll(&mut polled, Some(&timeout)).unwrap(),
        1,
        "the orphaned child was killed"
    );
    // Reaped, then forgotten by the registry of owned pids, then settled.
    let deadline = std::time::Instant::now() + bound;
    while owned::Owned::lock().contains(pid) || link.in_flight() > 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the orphaned child was reaped and its request settled"
        );
        std::thread::yield_now();
    }
    let reaped = rustix::process::waitid(
        rustix::process::WaitId::PidFd(exited.0.as_fd()),
        rustix::process::WaitIdOptions::EXITED | rustix::process::WaitIdOptions::NOHANG,
    );
    assert_eq!(reaped.err(), Some(rustix::io::Errno::CHILD), "no one else may reap it");
    assert_eq!(link.in_flight(), 0, "settled once, not twice");
}

/// A spawn cancelled after its link's thread has ended (the launcher
/// closed its socket while it still held a reply socket, as its clone
/// child does until `exec`): the orphan is settled off that thread, its
/// child killed and reaped when its reply comes.
#[test]
fn an_orphan_left_after_the_link_thread_ended_is_still_settled() {
    on_one_thread(|| async {
        // The launcher's socket closes; the reply socket stays open.
        let scene = starting(Socket::Closed);
        let fds = [scene.null.as_fd(); wire::FDS];
        let mut asked = request(1);
        // Boxed, so that dropping it drops the spawn's future.
        let mut asking = Box::pin(scene.link.ask(&mut asked, &fds));
        tokio::select! {
            answer = &mut asking => panic!("answered before the launcher replied: {answer:?}"),
            got = scene.got_request => got.unwrap(),
        }
        // The link's thread sees the launcher's socket end and, with no
        // orphan to settle, ends; the spawn still waits on its own socket.
        let deadline = std::time::Instant::now() + DEADLINE / 3;
        while !lock(&scene.link.state).unserved {
            assert!(std::time::Instant::now() < deadline, "the link's thread ended");
            std::thread::yield_now();
        }
        // Cancelled now: its orphan goes to a thread of its own, which
        // waits for the reply.
        drop(asking);
        assert_eq!(scene.link.in_flight(), 1);
        scene.cancelled.send(()).unwrap();
        scene.launcher.join().unwrap();
        assert_killed_and_reaped(&scene.exited, scene.pid, &scene.link);
        drop(scene.child);
    });
}

/// Whether a stand-in launcher closes its socket once it has a request.
#[derive(PartialEq)]
enum Socket {
    KeptOpen,
    Closed,
}

/// A link to a stand-in launcher that, for the first request it reads,
/// says it has it, waits until the test says the spawn was cancelled,
/// then replies that `child` (a `sleep` of the test's: procbox's child, as
/// the launcher's children are) started.
struct Starting {
    link: Arc<Link>,
    null: OwnedFd,
    child: std::process::Child,
    pid: libc::pid_t,
    exited: KilledOnDrop,
    got_request: tokio::sync::oneshot::Receiver<()>,
    cancelled: std::sync::mpsc::Sender<()>,
    launcher: std::thread::JoinHandle<()>,
}

fn starting(socket: Socket) -> Starting {
    let (ours, theirs) = pair();
    let link = Link::start(ours, 0, false).unwrap();
    let null = OwnedFd::from(std::fs::File::open("/dev/null").unwrap());
    let child = quiet_sleep();
    let pid = child.id() as libc::pid_t;
    let exited = KilledOnDrop(crate::sys::pidfd::pidfd_open(pid).unwrap());
    let (asked, got_request) = tokio::sync::oneshot::channel();
    let (cancelled, on_cancel) = std::sync::mpsc::channel::<()>();
    let launcher = std::thread::spawn(move || {
        let (request, reply_to) = receive(theirs.as_fd()).unwrap();
        if socket == Socket::Closed {
            drop(theirs);
        }
        asked.send(()).unwrap();
        on_cancel.recv().unwrap();
        let stages = crate::exit::LauncherStages::default();
        let started = Reply::Started {
            pid,
            init: None,
            stages,
            received: 0,
            replied: 0,
        };
        answer(&request, &reply_to, started);
    });
    Starting {
        link,
        null,
        child,
        pid,
        exited,
        got_request,
        cancelled,
        launcher,
    }
}
