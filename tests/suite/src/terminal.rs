//! `procbox` on a pseudo-terminal, for the tests of the permission prompt:
//! `script(1)` gives it a terminal, and the test types the answers.

/// `procbox ARGS` on a pseudo-terminal (`script`), answering the permission
/// prompt with `answers` as they are asked for, each after `think` (after
/// `early`, typed before any prompt appears); returns procbox's exit code
/// and what the terminal showed.
pub async fn on_a_terminal_thinking(
    args: &[&str],
    early: &str,
    answers: &[&str],
    think: std::time::Duration,
) -> (Option<i32>, String) {
    let config = crate::test_config_dir();
    on_a_terminal_in(&config, args, early, answers, think).await
}

/// [`on_a_terminal_thinking`] with the config directory (and so the grant
/// store) `config`.
pub async fn on_a_terminal_in(
    config: &std::path::Path,
    args: &[&str],
    early: &str,
    answers: &[&str],
    think: std::time::Duration,
) -> (Option<i32>, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let quoted: Vec<String> = std::iter::once(crate::procbox_bin().display().to_string())
        .chain(args.iter().map(|a| a.to_string()))
        .map(|word| format!("'{}'", word.replace('\'', r"'\''")))
        .collect();
    let mut script = tokio::process::Command::new("script")
        .args(["-qfec", &quoted.join(" "), "/dev/null"])
        .env("PROCBOX_CACHE_DIR", crate::test_cache_dir())
        .env("PROCBOX_CONFIG_DIR", config)
        .env("PROCBOX_PROGRESS_AFTER_MS", "3600000")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("script(1) from util-linux");
    let mut stdin = script.stdin.take().unwrap();
    let mut stdout = script.stdout.take().unwrap();
    stdin.write_all(early.as_bytes()).await.unwrap();
    let mut shown = String::new();
    for answer in answers {
        // Read until the next question is on the screen, then answer it.
        let asked = shown.matches("answer:").count() + shown.matches("rule (as").count();
        while shown.matches("answer:").count() + shown.matches("rule (as").count() == asked {
            let mut chunk = [0u8; 4096];
            let n = crate::bounded!(stdout.read(&mut chunk)).unwrap();
            assert!(n > 0, "procbox ended before asking: {shown}");
            shown.push_str(&String::from_utf8_lossy(&chunk[..n]));
        }
        tokio::time::sleep(think).await;
        stdin.write_all(format!("{answer}\n").as_bytes()).await.unwrap();
    }
    let mut rest = String::new();
    crate::bounded!(stdout.read_to_string(&mut rest)).unwrap();
    shown.push_str(&rest);
    let status = crate::bounded!(script.wait()).unwrap();
    (status.code(), shown)
}
