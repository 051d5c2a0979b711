use std::path::Path;

use procbox::policy::document::{self, Kind};

use super::*;

#[test]
fn the_summary_lists_every_rule_and_key_it_is_given() {
    let text = r#"
allow-run = ["/usr/bin/git log **"]
deny-run = ["/usr/bin/git push **"]
allow-env = ["LANG=C"]
dir = ["/srv/repo"]
allow-read = ["/srv/docs"]
allow-write = ["/srv/out"]
allow-net = true
allow-inherit = true
strict-programs = true
confine = "off"
contain = "require"
allow-child-net = ["443"]
allow-helper = ["git=/usr/lib/git-core"]

[[run]]
program = "printf"
args = ["%s", "a b"]

[[run]]
program = "rm"
args = ["-rf", "/"]
deny = true

[limits]
max-children = 4
max-runtime = "1m 30s"
max-output = "16MiB"
die-with-procbox = true
"#;
    let doc = document::parse(text, Path::new("/g/e.toml"), Kind::Remembered).unwrap();
    assert_eq!(
        summary(&doc),
        "--allow-run='/usr/bin/git log **' \
         # needs a grants file: [[run]] program = \"printf\" args = [\"%s\", \"a b\"] \
         --deny-run='/usr/bin/git push **' --deny-run='rm -rf /' --allow-env=LANG=C \
         --dir=/srv/repo --allow-read=/srv/docs --allow-write=/srv/out \
         --allow-net --allow-inherit --strict-programs --confine=off --contain=require \
         --allow-child-net=443 --allow-helper=git=/usr/lib/git-core \
         --max-children=4 --max-runtime='1m 30s' --max-output=16MiB --die-with-procbox"
    );
    assert_eq!(summary(&Document::default()), "nothing");
}
