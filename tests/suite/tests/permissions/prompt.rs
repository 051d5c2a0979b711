//! The prompt on a terminal: allow once, deny, edit a rule, no prompt, and
//! input typed before it asked.

use super::*;

#[tokio::test]
async fn on_a_terminal_the_prompt_allows_once_and_the_budget_waits_for_the_answer() {
    let args = [
        "run",
        guests::SPAWN_OUTCOME,
        "--max-plugin-time=1s",
        "--",
        "stdout:hi",
        "echo",
        "hi",
    ];
    // The person takes longer than the whole budget to answer (the sleep
    // is the person thinking, not a synchronisation): the budget does not
    // run while the question waits.
    let think = std::time::Duration::from_millis(1500);
    let (code, shown) = on_a_terminal_thinking(&args, "", &["o"], think).await;
    assert_eq!(code, Some(0), "{shown}");
    assert!(shown.contains("the plugin asks to run: /usr/bin/echo hi"), "{shown}");
    assert!(shown.contains("suggested rule: /usr/bin/echo hi"), "{shown}");
}

#[tokio::test]
async fn on_a_terminal_deny_edit_and_no_prompt_do_what_they_say() {
    let run = |expected: &'static str| ["run", guests::SPAWN_OUTCOME, "--", expected, "echo", "hi"];
    let (code, shown) = on_a_terminal(&run("denied:denied at the prompt"), "", &["d"]).await;
    assert_eq!(code, Some(0), "{shown}");
    // An edited rule is judged like any other: this one allows it.
    // ... for the rest of this run, not remembered ("r").
    let (code, shown) = on_a_terminal(&run("stdout:hi"), "", &["e", "echo **", "r"]).await;
    assert_eq!(code, Some(0), "{shown}");
    // --no-prompt: the plain denial with its fix, and no question.
    let mut args = run("denied:--allow-run").to_vec();
    args.insert(2, "--no-prompt");
    let (code, shown) = on_a_terminal(&args, "", &[]).await;
    assert_eq!(code, Some(0), "{shown}");
    assert!(!shown.contains("answer:"), "{shown}");
}

#[tokio::test]
async fn input_typed_before_the_prompt_is_not_an_answer() {
    // "o" arrives long before the question; it is discarded, and the
    // answer given to the question (deny) is the one that counts.
    let args = [
        "run",
        guests::SPAWN_OUTCOME,
        "--",
        "denied:denied at the prompt",
        "echo",
        "hi",
    ];
    let (code, shown) = on_a_terminal(&args, "o\n", &["d"]).await;
    assert_eq!(code, Some(0), "{shown}");
}
