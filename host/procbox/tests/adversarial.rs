//! Escape attempts against the one gate, with real files, links and
//! directories. Each case is one way a plugin could try to run something it
//! was not granted; each must be refused with the right reason.
//!
//! (Cargo also builds the `procbox` binary for these integration tests,
//! which the end-to-end tests in `tests/` run.)

use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use procbox::policy::document::{self, Kind};
use procbox::SearchPath;
use procbox::{Gate, PolicyBuilder, PolicyError, SpawnRequest};

/// A scratch tree:
/// - `work/` the granted directory (and the start directory);
/// - `work/escape` a symlink to `/etc`; `outside/` a sibling not granted;
/// - `bin/cat` a copy of cat; `bin/git` a symlink to rm; `bin/catlink` a
///   symlink to the real cat; `evil/cat` a copy of rm named cat.
struct Fixture {
    _dir: tempfile::TempDir,
    root: PathBuf,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        for sub in ["work", "outside", "bin", "evil"] {
            std::fs::create_dir(root.join(sub)).unwrap();
        }
        symlink("/etc", root.join("work/escape")).unwrap();
        std::fs::copy(real("cat"), root.join("bin/cat")).unwrap();
        symlink(real("rm"), root.join("bin/git")).unwrap();
        symlink(real("cat"), root.join("bin/catlink")).unwrap();
        std::fs::copy(real("rm"), root.join("evil/cat")).unwrap();
        Fixture { _dir: dir, root }
    }

    fn builder(&self) -> PolicyBuilder {
        PolicyBuilder::new()
            .start_dir(self.root.join("work"))
            .allow_dir(self.root.join("work"))
            .search_path(SearchPath::parse("/usr/bin:/bin".as_ref()))
            .host_env(vec![
                ("HOME".into(), "/home/me".into()),
                ("LD_PRELOAD".into(), "/host.so".into()),
            ])
    }

    fn gate(&self, builder: PolicyBuilder) -> Gate {
        Gate::new(Arc::new(builder.build().unwrap()))
    }

    /// The usual grants of these tests.
    fn standard(&self) -> Gate {
        self.gate(
            self.builder()
                .allow_run("cat")
                .allow_run("wc -l *")
                .allow_run("echo hello")
                .allow_run("ls")
                .deny_run("ls -R **")
                .allow_env("LANG=C*")
                .allow_env("*=*")
                // by exact name: a name glob covers only inert variables
                .allow_env("PATH=*")
                .allow_env("HOME"),
        )
    }
}

/// The canonical path of a system program.
fn real(program: &str) -> PathBuf {
    Path::new("/usr/bin").join(program).canonicalize().unwrap()
}

fn request(program: &str, args: &[&str]) -> SpawnRequest {
    SpawnRequest {
        program: program.into(),
        args: args.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    }
}

fn with_env(mut request: SpawnRequest, vars: &[(&str, &str)]) -> SpawnRequest {
    request.env = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    request
}

fn with_cwd(mut request: SpawnRequest, cwd: &str) -> SpawnRequest {
    request.cwd = Some(cwd.into());
    request
}

/// "allowed <program>" or the error's text.
fn verdict(gate: &Gate, request: &SpawnRequest) -> String {
    match gate.decide(request) {
        Ok(permit) => format!("allowed {}", permit.program().display()),
        Err(err) => err.to_string(),
    }
}

#[track_caller]
fn assert_verdict(gate: &Gate, request: &SpawnRequest, starts: &str, contains: &str) {
    let got = verdict(gate, request);
    assert!(
        got.starts_with(starts) && got.contains(contains),
        "{request:?}:\n  expected {starts}…{contains}\n  got {got}"
    );
}

#[test]
fn program_identity_cannot_be_faked() {
    let f = Fixture::new();
    let g = f.standard();
    let bin = |name: &str| f.root.join("bin").join(name).display().to_string();
    let cat = real("cat").display().to_string();
    let rm = real("rm").display().to_string();
    let cases: Vec<(SpawnRequest, &str, String)> = vec![
        // PATH hijack: the plugin's PATH never chooses the binary
        (
            with_env(
                request("cat", &[]),
                &[("PATH", &f.root.join("evil").display().to_string())],
            ),
            "allowed",
            cat.clone(),
        ),
        // a relative path is taken from the cwd and lands on the copy
        (
            with_cwd(request("./cat", &[]), "../bin"),
            "denied",
            "outside the granted directories".into(),
        ),
        (
            request("../bin/cat", &[]),
            "denied",
            format!("no allow rule grants {}", bin("cat")),
        ),
        // a relative path that lands on the granted file is the granted file
        (
            request("../../../../../../../../usr/bin/cat", &[]),
            "allowed",
            cat.clone(),
        ),
        // a copy of an allowed binary elsewhere is another program
        (
            request(&bin("cat"), &[]),
            "denied",
            format!("no allow rule grants {}", bin("cat")),
        ),
        // a symlink named like something harmless is judged by its target
        (
            request(&bin("git"), &[]),
            "denied",
            format!("no allow rule grants {rm}"),
        ),
        // a symlink to the granted binary is the granted binary
        (request(&bin("catlink"), &[]), "allowed", cat.clone()),
        // `..` inside an absolute path is resolved first
        (request("/usr/bin/../bin/cat", &[]), "allowed", cat.clone()),
        // granting echo does not grant env, which could run anything
        (
            request("env", &["rm", "-rf", "/"]),
            "denied",
            "no allow rule grants".into(),
        ),
        // program names are never globbed
        (request("c*t", &[]), "not found", "no such program".into()),
        (request("ca?", &[]), "not found", "no such program".into()),
        // names are case-sensitive
        (request("CAT", &[]), "not found", "no such program".into()),
        // a trailing slash makes it a directory path
        (request("cat/", &[]), "not found", "no executable file".into()),
        // directories and non-executable files are not programs
        (request("/usr/bin", &[]), "not found", "no executable file".into()),
        (request("/etc/passwd", &[]), "not found", "no executable file".into()),
        // a NUL byte would truncate the path inside exec
        (request("cat\0/../rm", &[]), "invalid input", "NUL".into()),
    ];
    for (req, starts, contains) in &cases {
        assert_verdict(&g, req, starts, contains);
    }
}

#[test]
fn argv0_comes_from_the_rule_not_the_plugin() {
    let f = Fixture::new();
    let g = f.standard();
    // Multi-call binaries pick their tool from argv[0]: the plugin must not
    // pick it.
    let permit = g
        .decide(&request(&f.root.join("bin/catlink").display().to_string(), &[]))
        .unwrap();
    assert_eq!(permit.arg0(), "cat");
}

#[test]
fn arguments_match_by_position_and_never_by_sloppy_globbing() {
    let f = Fixture::new();
    let g = f.standard();
    let cases: &[(&[&str], &str, &str)] = &[
        // exactly the granted argument list
        (&["hello"], "allowed", ""),
        // an extra empty argument is still an extra argument
        (&["hello", ""], "denied", "no allow rule matches these arguments"),
        // an argument with a space is one argument, not two
        (&["hello world"], "denied", "no allow rule matches these arguments"),
        // a newline does not start a new argument either
        (&["hello\n-e"], "denied", "no allow rule matches these arguments"),
        // nothing at all is not `hello`
        (&[], "denied", "rules for"),
    ];
    for (args, starts, contains) in cases {
        assert_verdict(&g, &request("echo", args), starts, contains);
    }
    // `*` is exactly one argument
    assert_verdict(&g, &request("wc", &["-l", "a"]), "allowed", "");
    assert_verdict(
        &g,
        &request("wc", &["-l", "a", "/etc/shadow"]),
        "denied",
        "'wc -l *' (embedder policy)",
    );
    assert_verdict(&g, &request("wc", &["-l"]), "denied", "no allow rule matches");
    assert_verdict(&g, &request("wc", &["-l=x", "y"]), "denied", "no allow rule matches");
}

#[test]
fn deny_rules_win_and_say_where_they_came_from() {
    let f = Fixture::new();
    let dir = tempfile::tempdir().unwrap();
    let grants = dir.path().join("grants.toml");
    std::fs::write(
        &grants,
        "allow-run = [\"ls\"]\n\n# no recursion\ndeny-run = [\"ls -R **\"]\n",
    )
    .unwrap();
    let doc = document::read(&grants, Kind::Grants).unwrap();
    let g = f.gate(f.builder().grants_document(doc));
    assert_verdict(&g, &request("ls", &["-l"]), "allowed", "");
    let expected = format!("matches deny rule 'ls -R **' ({}:4)", grants.display());
    assert_verdict(&g, &request("ls", &["-R", "/"]), "denied", &expected);
    assert_verdict(&g, &request("ls", &["-R"]), "denied", &expected);
}

#[test]
fn the_working_directory_cannot_escape() {
    let f = Fixture::new();
    let g = f.standard();
    let cases = [
        // `..` out of the granted root
        ("../outside", "denied", "outside the granted directories"),
        ("./../../", "denied", "outside the granted directories"),
        // a symlink inside the root that points out of it
        ("escape", "denied", "outside the granted directories"),
        // an absolute path elsewhere
        ("/", "denied", "outside the granted directories"),
        // missing directories are malformed requests
        ("no-such-dir", "invalid input", "No such file"),
        // inside the root is fine
        (".", "allowed", ""),
    ];
    for (cwd, starts, contains) in cases {
        assert_verdict(&g, &with_cwd(request("cat", &[]), cwd), starts, contains);
    }
    // With no granted directory, only the default working directory works.
    let none = f.gate(PolicyBuilder::new().start_dir(f.root.join("work")).allow_run("cat"));
    assert_verdict(&none, &request("cat", &[]), "allowed", "");
    assert_verdict(&none, &with_cwd(request("cat", &[]), "."), "denied", "none is granted");
}

#[test]
fn environment_injection_is_refused() {
    let f = Fixture::new();
    let g = f.standard();
    let cases: &[(&str, &str, &str, &str)] = &[
        // the loader's preload, even though `*=*` is granted
        (
            "LD_PRELOAD",
            "/tmp/evil.so",
            "denied",
            "only a rule that names it exactly",
        ),
        ("LD_LIBRARY_PATH", "/tmp", "denied", "only a rule that names it exactly"),
        (
            "LD_AUDIT",
            "/tmp/evil.so",
            "denied",
            "only a rule that names it exactly",
        ),
        (
            "DYLD_INSERT_LIBRARIES",
            "/tmp/evil.dylib",
            "denied",
            "only a rule that names it exactly",
        ),
        ("GCONV_PATH", "/tmp", "denied", "only a rule that names it exactly"),
        ("GLIBC_TUNABLES", "x", "denied", "only a rule that names it exactly"),
        // interpreters' start-up hooks
        (
            "BASH_ENV",
            "/tmp/evil.sh",
            "denied",
            "only a rule that names it exactly",
        ),
        (
            "NODE_OPTIONS",
            "--require /tmp/evil.js",
            "denied",
            "only a rule that names it exactly",
        ),
        ("PYTHONPATH", "/tmp", "denied", "only a rule that names it exactly"),
        ("GIT_SSH_COMMAND", "evil", "denied", "only a rule that names it exactly"),
        // malformed names
        ("A=B", "x", "invalid input", "must be non-empty"),
        ("", "x", "invalid input", "must be non-empty"),
        // inert variables are fine under `*=*` ...
        ("NO_COLOR", "1", "allowed", ""),
        ("LC_ALL", "C", "allowed", ""),
        // ... anything else needs its exact name (before: `*=*` granted these)
        ("COLOR", "never", "denied", "grant it by its exact name"),
        ("HOME", "/tmp/evil", "denied", "name globs cover only inert variables"),
        (
            "GIT_DIR",
            "/tmp/evil",
            "denied",
            "name globs cover only inert variables",
        ),
        (
            "TAR_OPTIONS",
            "--to-command=sh",
            "denied",
            "by its exact name (TAR_OPTIONS=GLOB)",
        ),
        ("PAGER", "sh -c evil", "denied", "exact name"),
        // exported shell functions never
        ("BASH_FUNC_ls%%", "() { evil; }", "denied", "never passes one"),
    ];
    for (name, value, starts, contains) in cases {
        assert_verdict(&g, &with_env(request("cat", &[]), &[(name, value)]), starts, contains);
    }
    // A narrower grant: LANG only, to values starting with C.
    let narrow = f.gate(f.builder().allow_run("cat").allow_env("LANG=C*"));
    assert_verdict(
        &narrow,
        &with_env(request("cat", &[]), &[("LANG", "C.UTF-8")]),
        "allowed",
        "",
    );
    assert_verdict(
        &narrow,
        &with_env(request("cat", &[]), &[("LANG", "en_US")]),
        "denied",
        "rule 'LANG=C*' (embedder policy) does not allow this value",
    );
    assert_verdict(
        &narrow,
        &with_env(request("cat", &[]), &[("TZ", "UTC")]),
        "denied",
        "lets the plugin set it (TZ=GLOB)",
    );
    // Granted by its exact name, a loader variable is a deliberate choice.
    let exact = f.gate(f.builder().allow_run("cat").allow_env("LD_LIBRARY_PATH=/opt/lib"));
    assert_verdict(
        &exact,
        &with_env(request("cat", &[]), &[("LD_LIBRARY_PATH", "/opt/lib")]),
        "allowed",
        "",
    );
}

#[test]
fn the_child_environment_starts_empty_and_passes_only_what_is_granted() {
    let f = Fixture::new();
    let g = f.gate(f.builder().allow_run("cat").allow_env("HOME").allow_env("LD_*"));
    let permit = g.decide(&request("cat", &[])).unwrap();
    // HOME passes through; LD_PRELOAD of the host does not, even under LD_*.
    assert_eq!(permit.env(), &[("HOME".to_string(), "/home/me".to_string())]);
}

#[test]
fn sha256_pins_are_enforced() {
    let f = Fixture::new();
    let dir = tempfile::tempdir().unwrap();
    let pinned = |digest: &str| {
        let path = dir.path().join("pins.toml");
        std::fs::write(&path, format!("[[run]]\nprogram = \"cat\"\nsha256 = \"{digest}\"\n")).unwrap();
        f.gate(
            f.builder()
                .grants_document(document::read(&path, Kind::Grants).unwrap()),
        )
    };
    let actual = {
        use sha2::Digest;
        let digest = sha2::Sha256::digest(std::fs::read(real("cat")).unwrap());
        digest.iter().map(|b| format!("{b:02x}")).collect::<String>()
    };
    // the binary that was pinned
    assert_verdict(&pinned(&actual), &request("cat", &[]), "allowed", "");
    // a binary that is not the one pinned (replaced, upgraded, tampered)
    assert_verdict(
        &pinned(&"0".repeat(64)),
        &request("cat", &[]),
        "denied",
        "but rule 'cat'",
    );
}

#[test]
fn both_gates_must_allow() {
    let f = Fixture::new();
    let dir = tempfile::tempdir().unwrap();
    let manifest = dir.path().join("plugin.manifest.toml");
    std::fs::write(&manifest, "allow-run = [\"wc -l *\"]\nallow-env = [\"LANG=C\"]\n").unwrap();
    let doc = document::read(&manifest, Kind::Manifest).unwrap();
    let g = f.gate(
        f.builder()
            .allow_run("cat")
            .allow_run("wc")
            .allow_env("*=*")
            .manifest_document(&manifest, doc),
    );
    // granted and requested
    assert_verdict(&g, &request("wc", &["-l", "x"]), "allowed", "");
    // granted, but the plugin never asked for it
    assert_verdict(&g, &request("cat", &[]), "denied", "the plugin's manifest");
    // granted more broadly than requested: the request is the limit
    assert_verdict(&g, &request("wc", &["-c", "x"]), "denied", "the plugin's manifest");
    // requested but not granted
    let stingy = f.gate(
        f.builder()
            .allow_run("cat")
            .manifest_document(&manifest, document::read(&manifest, Kind::Manifest).unwrap()),
    );
    assert_verdict(&stingy, &request("wc", &["-l", "x"]), "denied", "no allow rule grants");
    // variables pass both layers too
    assert_verdict(
        &g,
        &with_env(request("wc", &["-l", "x"]), &[("LANG", "C")]),
        "allowed",
        "",
    );
    assert_verdict(
        &g,
        &with_env(request("wc", &["-l", "x"]), &[("TZ", "UTC")]),
        "denied",
        "manifest",
    );
}

#[test]
fn oversized_and_malformed_requests_are_clear_errors() {
    let f = Fixture::new();
    let g = f.standard();
    let long = "x".repeat(200 * 1024);
    let many: Vec<&str> = vec!["a"; 40_000];
    assert_verdict(&g, &request("cat", &[&long]), "invalid input", "longer than the limit");
    assert_verdict(
        &g,
        &request("cat", &many),
        "invalid input",
        "more than the limit of 32768",
    );
    let big_env: Vec<(String, String)> = (0..200).map(|i| (format!("V{i}"), "y".repeat(8 * 1024))).collect();
    let req = SpawnRequest {
        env: big_env,
        ..request("cat", &[])
    };
    assert_verdict(&g, &req, "invalid input", "more than the limit of 1048576 bytes");
    assert_verdict(&g, &request("cat", &["a\0b"]), "invalid input", "NUL");
    assert_verdict(&g, &with_cwd(request("cat", &[]), "a\0b"), "invalid input", "NUL");
    assert_verdict(&g, &request("", &[]), "invalid input", "empty");
}

#[test]
fn malformed_rules_fail_at_startup_naming_the_rule_and_source() {
    let f = Fixture::new();
    let cases = [
        // `**` may only be last
        (f.builder().allow_run("git ** push"), "can only deny"),
        (f.builder().deny_run("cat ** **"), "`**` may appear once"),
        // a granted program must exist
        (f.builder().allow_run("no-such-program-procbox"), "no such program"),
        // an empty rule
        (f.builder().allow_run("  "), "the rule is empty"),
        // a malformed env rule
        (f.builder().allow_env("=x"), "variable name is empty"),
    ];
    for (builder, expected) in cases {
        let err: PolicyError = builder.build().unwrap_err();
        assert!(err.to_string().contains(expected), "{err}");
        assert!(err.to_string().starts_with("embedder policy:"), "{err}");
    }
}
