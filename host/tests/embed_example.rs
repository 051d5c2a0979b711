//! The embedding example (`host/examples/embed.rs`) runs and its hook
//! decides: cargo builds examples along with the tests; this runs it.

use std::time::Duration;

#[test]
fn the_embedding_example_asks_its_hook_and_a_refusal_reaches_the_plugin() {
    let tests_dir = std::env::current_exe().unwrap().parent().unwrap().to_path_buf();
    let example = tests_dir.parent().unwrap().join("examples/embed");
    assert!(
        example.exists(),
        "{} is missing (cargo test builds examples)",
        example.display()
    );
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(std::process::Command::new(&example).output());
    });
    let output = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("the example did not finish")
        .unwrap();
    let (out, err) = (
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
    );
    assert!(output.status.success(), "{out}{err}");
    assert!(out.contains("hello world`: allowed"), "{out}");
    assert!(out.contains("--line-buffered ERROR`: refused"), "{out}");
    assert!(
        err.contains("refused by the host application: the user said no to grep"),
        "the plugin got the refusal: {err}"
    );
    assert!(out.contains("the plugin ended: Exited(1)"), "{out}");
}
