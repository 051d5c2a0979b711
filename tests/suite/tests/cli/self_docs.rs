//! The command line documents itself: shell completions and man pages cover
//! every subcommand and flag, and `--version` names the WIT it serves.

use super::*;

/// The subcommands `procbox --help` lists.
async fn subcommands() -> Vec<String> {
    commands_in(&bounded!(procbox(&["--help"])).stdout)
}

/// The long flags `procbox SUBCOMMAND --help` defines.
async fn long_flags(subcommand: &str) -> Vec<String> {
    flags_in(&bounded!(procbox(&[subcommand, "--help"])).stdout)
}

#[tokio::test]
async fn completions_cover_every_subcommand_and_flag_in_each_shell() {
    let subcommands = subcommands().await;
    assert!(
        subcommands.len() >= 12 && subcommands.contains(&"run".to_string()),
        "{subcommands:?}"
    );
    for shell in ["bash", "zsh", "fish"] {
        let script = bounded!(procbox(&["completions", shell]));
        assert_eq!(script.code, Some(0), "{script:?}");
        for sub in &subcommands {
            assert!(script.stdout.contains(sub.as_str()), "{shell}: no {sub}");
            if sub == "worker" {
                continue; // its flags are procbox-worker's, passed through
            }
            for flag in long_flags(sub).await {
                // fish writes `-l allow-run`, the others `--allow-run`.
                let written = if shell == "fish" {
                    format!("-l {}", &flag[2..])
                } else {
                    flag.clone()
                };
                assert!(script.stdout.contains(&written), "{shell}: no {written} of {sub}");
            }
        }
    }
    // The bash script is valid bash.
    let bash = bounded!(procbox(&["completions", "bash"])).stdout;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("procbox.bash");
    std::fs::write(&file, bash).unwrap();
    let checked = std::process::Command::new("bash")
        .arg("-n")
        .arg(&file)
        .output()
        .unwrap();
    assert!(checked.status.success(), "{}", String::from_utf8_lossy(&checked.stderr));
    let unknown = bounded!(procbox(&["completions", "tcsh"]));
    assert_eq!(unknown.code, Some(2), "{unknown:?}");
}

#[tokio::test]
async fn every_subcommand_has_a_man_page_with_its_flags() {
    let top = bounded!(procbox(&["man"]));
    assert_eq!(top.code, Some(0), "{top:?}");
    assert!(
        top.stdout.starts_with(".ie") || top.stdout.contains(".TH procbox 1"),
        "{}",
        &top.stdout[..200.min(top.stdout.len())]
    );
    let dir = tempfile::tempdir().unwrap();
    let written = bounded!(procbox(&["man", "--out-dir", dir.path().to_str().unwrap()]));
    assert_eq!(written.code, Some(0), "{written:?}");
    for sub in subcommands().await {
        // roff escapes '-' as '\-'.
        let roff = |text: &str| text.replace('-', "\\-");
        assert!(top.stdout.contains(&roff(&sub)), "procbox.1 lists no {sub}");
        let page = bounded!(procbox(&["man", &sub]));
        assert_eq!(page.code, Some(0), "{page:?}");
        assert!(
            page.stdout.contains(&format!(".TH procbox-{sub} 1")),
            "{sub}: {}",
            page.stdout
        );
        let file = std::fs::read_to_string(dir.path().join(format!("procbox-{sub}.1"))).unwrap();
        assert_eq!(file, page.stdout, "--out-dir wrote what `procbox man {sub}` prints");
        if sub == "worker" && !procbox_bin().with_file_name("procbox-worker").is_file() {
            // Its flags are procbox-worker's, passed through; without it
            // the page says where they are listed.
            assert!(page.stdout.contains("procbox worker \\-\\-help"), "{}", page.stdout);
            continue;
        }
        for flag in long_flags(&sub).await {
            assert!(page.stdout.contains(&roff(&flag)), "procbox-{sub}.1 has no {flag}");
        }
    }
    let bad = bounded!(procbox(&["man", "rnu"]));
    let hint = assert_failure(&bad, 2, "\"rnu\" is not a procbox subcommand").expect("a hint");
    assert!(hint.contains("run, explain"), "{hint}");
}

/// `procbox --version` names every procbox:host version in `wit/`: the
/// current one and each old one kept beside it.
#[tokio::test]
async fn version_names_the_wit_it_serves() {
    let version = bounded!(procbox(&["--version"]));
    assert_eq!(version.code, Some(0), "{version:?}");
    let wit = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../wit");
    let mut files = vec![wit.join("process.wit")];
    for dir in std::fs::read_dir(wit.join("deps")).unwrap() {
        let dir = dir.unwrap().path();
        if dir.file_name().unwrap().to_str().unwrap().starts_with("procbox-host-") {
            files.push(dir.join("process.wit"));
        }
    }
    assert!(files.len() >= 3, "{files:?}");
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let package = text
            .lines()
            .find_map(|line| line.strip_prefix("package "))
            .and_then(|p| p.strip_suffix(';'))
            .unwrap();
        assert!(
            version.stdout.contains(package),
            "{package} is not in {:?}",
            version.stdout
        );
    }
}
