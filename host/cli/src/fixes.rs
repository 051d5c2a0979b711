//! How the command line writes the fix of a denial: as the flag that would
//! allow it, and the grants-file line beside it. The library gives the fix
//! as data ([`procbox::Fix`]); the words for it are the command line's.

use procbox::gate::suggest::shell_quote;
use procbox::{Fix, FixStyle, Grant};

/// Fixes as `procbox` flags.
#[derive(Debug, Clone, Copy, Default)]
pub struct Flags;

impl FixStyle for Flags {
    fn render(&self, fix: &Fix) -> String {
        let line = fix.grant.grants_file_line();
        let lead = fix.lead();
        let mut text = match (&fix.grant, fix.grant.value()) {
            (Grant::RunExactly { program, args }, _) if args.is_empty() => format!(
                "{lead} (no arguments), in a grants file: {line}; --allow-run {} would allow any arguments",
                shell_quote(program)
            ),
            (Grant::RunExactly { .. }, _) => format!("{lead}, in a grants file: {line}"),
            (Grant::AllowEnv(rule), _) if !fix.exactly => {
                format!("{lead}: --allow-env {} (any value)", shell_quote(rule))
            }
            (grant, Some(value)) => format!(
                "{lead}: --{} {} (grants file: {line})",
                grant.key(),
                shell_quote(&value)
            ),
            (grant, None) => format!("{lead}: --{} (grants file: {line})", grant.key()),
        };
        if let Some(name) = &fix.runs_others {
            text.push_str(&format!(
                "; that rule is broad: {name} runs other programs (children execute only the helpers you grant it with --allow-helper)"
            ));
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use procbox::gate::suggest;
    use std::path::Path;

    #[test]
    fn a_fix_is_written_as_the_flag_and_the_grants_file_line() {
        let wc = suggest::exec_rule("wc", &["-l".into(), "x*".into()]);
        assert_eq!(
            Flags.render(&wc),
            "to allow exactly this: --allow-run 'wc -l x[*]' (grants file: allow-run = [\"wc -l x[*]\"])"
        );
        let git = suggest::exec_rule("git", &[]);
        assert_eq!(
            Flags.render(&git),
            "to allow exactly this (no arguments), in a grants file: [[run]] program = \"git\" args = []; --allow-run git would allow any arguments"
        );
        let sh = suggest::exec_rule("sh", &["-c".into(), "ls -l".into()]);
        assert!(Flags.render(&sh).ends_with("that rule is broad: sh runs other programs (children execute only the helpers you grant it with --allow-helper)"));
        assert_eq!(
            Flags.render(&suggest::env_rule("LANG", "C.UTF-8")),
            "to allow exactly this: --allow-env LANG=C.UTF-8 (grants file: allow-env = [\"LANG=C.UTF-8\"])"
        );
        assert_eq!(
            Flags.render(&suggest::env_rule("MSG", "two words")),
            "to allow it: --allow-env 'MSG=*' (any value)"
        );
        assert_eq!(
            Flags.render(&suggest::dir(Path::new("/tmp/my dir"))),
            "to allow it: --dir '/tmp/my dir' (grants file: dir = [\"/tmp/my dir\"])"
        );
        assert_eq!(
            Flags.render(&Fix::new(Grant::AllowInherit)),
            "to allow it: --allow-inherit (grants file: allow-inherit = true)"
        );
    }
}
