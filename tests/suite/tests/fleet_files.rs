//! The fleet's files (`docs/fleet/Containerfile`, `docs/fleet/deployment.yaml`)
//! as an operator uses them: the copies in `docs/fleet.md` are the files, what
//! they ask of procbox is what procbox accepts, and the image builds where
//! podman or buildah is installed.

use std::path::{Path, PathBuf};
use std::process::Command;

use procbox_tests::language::{code_blocks, repo};
use procbox_tests::{bounded, guests, procbox};

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

fn fleet_file(name: &str) -> PathBuf {
    repo().join("docs/fleet").join(name)
}

/// The JSON array of the Containerfile instruction `keyword`
/// (`ENTRYPOINT [...]`), as strings.
fn exec_form(containerfile: &str, keyword: &str) -> Vec<String> {
    let line = containerfile
        .lines()
        .find_map(|line| line.strip_prefix(keyword)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("the Containerfile has no {keyword}"));
    serde_json::from_str(line).unwrap_or_else(|e| panic!("{keyword} is not a JSON array of strings: {e}"))
}

/// The sources of the Containerfile's `COPY`s from the build context
/// (not `--from` another stage).
fn context_sources(containerfile: &str) -> Vec<String> {
    containerfile
        .lines()
        .filter_map(|line| line.strip_prefix("COPY "))
        .filter(|rest| !rest.starts_with("--from"))
        .flat_map(|rest| {
            let words: Vec<&str> = rest.split_whitespace().collect();
            words[..words.len() - 1]
                .iter()
                .map(|w| w.to_string())
                .collect::<Vec<_>>()
        })
        .collect()
}

#[test]
fn fleet_md_shows_the_files_themselves() {
    let doc = read(&repo().join("docs/fleet.md"));
    for (lang, name) in [("dockerfile", "Containerfile"), ("yaml", "deployment.yaml")] {
        let blocks = code_blocks(&doc, &[lang]);
        assert_eq!(blocks.len(), 1, "docs/fleet.md should show one {lang} block");
        assert_eq!(
            blocks[0].2,
            read(&fleet_file(name)),
            "docs/fleet.md line {}: the {lang} block differs from docs/fleet/{name}; copy the file into it",
            blocks[0].1
        );
    }
}

#[tokio::test]
async fn the_entrypoint_asks_doctor_for_mechanisms_it_knows() {
    let entrypoint = exec_form(&read(&fleet_file("Containerfile")), "ENTRYPOINT");
    let script = &entrypoint[2];
    let list = script
        .split_whitespace()
        .skip_while(|w| *w != "--require")
        .nth(1)
        .expect("the ENTRYPOINT runs `procbox doctor --require LIST`");
    let run = bounded!(procbox(&["doctor", "--require", list]));
    // 0: all enforced here; 1: some not (this machine's business). 2 would
    // be a name doctor does not know: the image would never start.
    assert!(matches!(run.code, Some(0 | 1)), "doctor --require {list}: {run:?}");
    for name in list.split(',') {
        assert!(
            run.stdout.contains(name) || run.stderr.contains(name),
            "doctor said nothing of {name}: {run:?}"
        );
    }
}

#[tokio::test]
async fn the_deployments_args_reach_the_worker_config_and_the_images_cmd_is_help() {
    let deployment = read(&fleet_file("deployment.yaml"));
    let args: Vec<String> = deployment
        .lines()
        .map(str::trim)
        .skip_while(|line| *line != "args:")
        .skip(1)
        .map_while(|line| line.strip_prefix("- "))
        .map(str::to_string)
        .collect();
    assert!(
        args.iter().any(|a| a.starts_with("--temporal=")),
        "no --temporal in {args:?}"
    );
    let mut argv = vec!["worker"];
    argv.extend(args.iter().map(String::as_str));
    let run = bounded!(procbox(&argv));
    // The worker accepted every flag and stopped at the image's config,
    // which this machine does not have: one line naming it, exit 1.
    assert_eq!(run.code, Some(1), "procbox {argv:?}: {run:?}");
    assert!(run.stderr.contains("/etc/procbox/worker.toml"), "{run:?}");
    assert_eq!(run.stderr.trim().lines().count(), 1, "{run:?}");

    // Without the pod's args, the image prints the worker's flags.
    let cmd = exec_form(&read(&fleet_file("Containerfile")), "CMD");
    let mut argv = vec!["worker"];
    argv.extend(cmd.iter().map(String::as_str));
    let run = bounded!(procbox(&argv));
    assert_eq!(run.code, Some(0), "procbox {argv:?}: {run:?}");
    assert!(run.stdout.contains("--config"), "{run:?}");
}

/// The build context the Containerfile's header describes: the repository's
/// files as `procbox/`, a plugin in `plugins/`, and a `worker.toml`.
fn build_context(dir: &Path) {
    let listed = Command::new("git")
        .args(["ls-files", "-z", "--cached", "--others", "--exclude-standard"])
        .current_dir(repo())
        .output()
        .expect("run git ls-files");
    assert!(listed.status.success(), "git ls-files: {listed:?}");
    for file in listed.stdout.split(|b| *b == 0).filter(|f| !f.is_empty()) {
        let file = std::str::from_utf8(file).expect("a UTF-8 path");
        let from = repo().join(file);
        if !from.is_file() {
            continue; // deleted in the work tree
        }
        let to = dir.join("procbox").join(file);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(&from, &to).unwrap_or_else(|e| panic!("copy {file}: {e}"));
    }
    std::fs::create_dir_all(dir.join("plugins")).unwrap();
    std::fs::copy(guests::WORKER_JOB, dir.join("plugins/job.wasm")).unwrap();
    std::fs::write(
        dir.join("worker.toml"),
        "[plugins.job]\npath = \"/opt/procbox/plugins/job.wasm\"\n",
    )
    .unwrap();
}

#[test]
fn the_image_builds_where_podman_or_buildah_is_installed() {
    let containerfile = fleet_file("Containerfile");
    let context = tempfile::tempdir().unwrap();
    build_context(context.path());
    for source in context_sources(&read(&containerfile)) {
        assert!(
            context.path().join(&source).exists(),
            "the Containerfile copies {source}, which its header's context does not hold"
        );
    }
    let Some(builder) = ["podman", "buildah"].into_iter().find(|tool| {
        Command::new(tool)
            .arg("--version")
            .output()
            .is_ok_and(|out| out.status.success())
    }) else {
        procbox_tests::skip("the image build: neither podman nor buildah is installed");
        return;
    };
    let subcommand = if builder == "podman" { "build" } else { "bud" };
    let out = Command::new(builder)
        .args([subcommand, "-t", "procbox-worker-test", "-f"])
        .arg(&containerfile)
        .arg(context.path())
        .output()
        .expect("start the image build");
    assert!(
        out.status.success(),
        "{builder} {subcommand} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
