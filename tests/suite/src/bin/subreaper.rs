//! `subreaper PROGRAM [ARGS...]`: runs the program as the child subreaper
//! of everything it starts, reaps every process re-parented to it, and
//! exits (with the program's status) only when none is left. A test that
//! SIGKILLs procbox runs it under this, so that what procbox leaves behind
//! comes here, not to the machine's init: when `subreaper` exits, nothing
//! of the tree remains, not even a zombie.

use std::process::Command;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((program, rest)) = args.split_first() else {
        eprintln!("usage: subreaper PROGRAM [ARGS...]");
        std::process::exit(2);
    };
    // SAFETY: a plain prctl with integer arguments.
    if unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) } != 0 {
        eprintln!("subreaper: {}", std::io::Error::last_os_error());
        std::process::exit(2);
    }
    let child = match Command::new(program).args(rest).spawn() {
        Ok(child) => child,
        Err(e) => {
            eprintln!("subreaper: {program}: {e}");
            std::process::exit(2);
        }
    };
    let pid = child.id() as libc::pid_t;
    let mut code = 2;
    loop {
        let mut status = 0;
        // SAFETY: waits for any child of ours.
        let reaped = unsafe { libc::waitpid(-1, &mut status, 0) };
        if reaped < 0 {
            match std::io::Error::last_os_error().raw_os_error() {
                Some(libc::EINTR) => continue,
                _ => break, // ECHILD: nothing is left
            }
        }
        if reaped == pid {
            code = match libc::WIFEXITED(status) {
                true => libc::WEXITSTATUS(status),
                false => 128 + libc::WTERMSIG(status),
            };
        }
    }
    std::process::exit(code);
}
