//! How a denial in a worker names its fix: as the line to add to the
//! plugin's table in worker.toml. The workflow's author reads it in the
//! plugin's stderr; only the operator can make the change.

use std::path::PathBuf;

use procbox::{Fix, FixStyle, Grant};

/// Fixes as worker.toml lines of one `[plugins.NAME]` table.
#[derive(Debug, Clone)]
pub struct WorkerToml {
    /// The plugin's name.
    pub plugin: String,
    /// worker.toml.
    pub config: PathBuf,
}

impl FixStyle for WorkerToml {
    fn render(&self, fix: &Fix) -> String {
        let lead = fix.lead();
        let (table, line) = match &fix.grant {
            // A `[[run]]` entry is an array of tables inside the plugin's.
            Grant::RunExactly { .. } => (
                format!("[[plugins.{}.run]]", self.plugin),
                fix.grant
                    .grants_file_line()
                    .trim_start_matches("[[run]]")
                    .trim()
                    .to_string(),
            ),
            grant => (format!("[plugins.{}]", self.plugin), grant.grants_file_line()),
        };
        let mut text = format!(
            "{lead}, the worker's operator adds to {table} in {}: {line} (and restarts the worker)",
            self.config.display()
        );
        if let Some(name) = &fix.runs_others {
            text.push_str(&format!(
                "; that rule is broad: {name} runs other programs (its children execute only the helpers granted to it, allow-helper)"
            ));
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use procbox::gate::suggest;

    fn style() -> WorkerToml {
        WorkerToml {
            plugin: "report".into(),
            config: "/etc/procbox/worker.toml".into(),
        }
    }

    #[test]
    fn a_fix_names_the_plugin_s_table_in_worker_toml_not_a_flag() {
        let text = style().render(&suggest::exec_rule("wc", &["-l".into()]));
        assert_eq!(
            text,
            "to allow exactly this, the worker's operator adds to [plugins.report] in /etc/procbox/worker.toml: allow-run = [\"wc -l\"] (and restarts the worker)"
        );
        assert!(!text.contains("--"), "{text}");
    }

    #[test]
    fn an_exact_rule_without_arguments_is_a_run_table_of_the_plugin() {
        let text = style().render(&suggest::exec_rule("git", &[]));
        assert!(
            text.contains("[[plugins.report.run]] in /etc/procbox/worker.toml: program = \"git\" args = []"),
            "{text}"
        );
    }
}
