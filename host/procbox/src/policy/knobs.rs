//! **One schema for every limit.** Each knob is declared once, in the table
//! at the bottom of this file, under the one name it has everywhere: the
//! key in a grants file's `[limits]` table, the `procbox` flag `--NAME`, and
//! docs/reference.md. [`LimitSettings`] is the serde struct (kebab-case, unknown
//! keys refused) that both the TOML reader and the CLI fill, and
//! [`KNOBS`] is the table the CLI turns into flags. A test checks that
//! every knob has a flag and a line in docs/reference.md and that a manifest refuses it.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::Deserialize;

use super::document::ValueError;
use super::limits::{ChildRlimits, Limits, PluginLimits};

/// How a knob's value is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueKind {
    /// A whole number.
    Count,
    /// A size: a number, or a number with `KiB`/`MiB`/`GiB` (`K`/`M`/`G`).
    Bytes,
    /// A duration such as `30s`, `500ms`, `10m`.
    Duration,
    /// On or off: a flag without a value; `true`/`false` in TOML.
    Switch,
}

/// One knob: its name, how its value is written, and what it does.
#[derive(Debug, Clone, Copy)]
pub struct Knob {
    /// The name: TOML key and flag (`--NAME`).
    pub name: &'static str,
    /// How its value is written.
    pub kind: ValueKind,
    /// The group it belongs to, for `--help`.
    pub heading: &'static str,
    /// One sentence on what it does, with its default.
    pub help: &'static str,
}

impl Knob {
    /// The placeholder for its value in `--help`.
    pub fn value_name(&self) -> &'static str {
        match self.kind {
            ValueKind::Count => "N",
            ValueKind::Bytes => "SIZE",
            ValueKind::Duration => "DURATION",
            ValueKind::Switch => "",
        }
    }
}

/// A size in bytes, written as a number or with a binary unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bytes(pub u64);

impl FromStr for Bytes {
    type Err = ValueError;
    fn from_str(text: &str) -> Result<Self, ValueError> {
        super::document::parse_bytes(text).map(Bytes)
    }
}

impl<'de> Deserialize<'de> for Bytes {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Number(u64),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Number(n) => Ok(Bytes(n)),
            Raw::Text(t) => t.parse().map_err(serde::de::Error::custom),
        }
    }
}

/// A duration written as `30s`, `500ms`, `2m`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span(pub Duration);

impl FromStr for Span {
    type Err = ValueError;
    fn from_str(text: &str) -> Result<Self, ValueError> {
        super::document::parse_duration(text).map(Span)
    }
}

impl<'de> Deserialize<'de> for Span {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?.parse().map_err(serde::de::Error::custom)
    }
}

/// Declares the knobs: the settings struct, the table, and setting one by
/// name. Each row: `field: Type, Kind, "name", "heading", "help";`.
macro_rules! knobs {
    ($( $field:ident: $ty:ty, $kind:ident, $name:literal, $heading:expr, $help:literal; )*) => {
        /// Every limit a user may set; `None` leaves it at its default. The
        /// `[limits]` table of a grants file, and the `procbox` flags of the
        /// same names.
        #[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
        #[serde(deny_unknown_fields, rename_all = "kebab-case")]
        #[non_exhaustive]
        pub struct LimitSettings {
            $(
                #[doc = $help]
                #[serde(default)]
                pub $field: Option<$ty>,
            )*
        }

        /// Every knob, in the order `--help` lists them.
        pub const KNOBS: &[Knob] = &[
            $( Knob { name: $name, kind: ValueKind::$kind, heading: $heading, help: $help }, )*
        ];

        impl LimitSettings {
            /// Sets the knob `name` from its written value.
            ///
            /// # Errors
            /// An unknown name, or a value that does not parse (why; the
            /// caller names the knob).
            pub fn set(&mut self, name: &str, text: &str) -> Result<(), ValueError> {
                match name {
                    $( $name => {
                        self.$field = Some(text.parse::<$ty>()?);
                    } )*
                    _ => return Err(ValueError::UnknownLimit { name: name.to_string() }),
                }
                Ok(())
            }

            /// `self`, with each knob that `other` sets replaced by `other`'s.
            pub fn overridden_by(self, other: LimitSettings) -> LimitSettings {
                LimitSettings { $( $field: other.$field.or(self.$field), )* }
            }
        }
    };
}

const CHILDREN: &str = "Limits on children";
const RLIMITS: &str = "Child resource limits (set in each child before exec)";
const PLUGIN: &str = "Limits on the plugin itself";
const TREE: &str = "Limits on the whole tree of children (cgroups; procbox doctor says where)";

knobs! {
    max_children: usize, Count, "max-children", CHILDREN,
        "Most children running at once (default 64).";
    max_spawns: u64, Count, "max-spawns", CHILDREN,
        "Most children started in the whole run (default: no limit).";
    max_runtime: Span, Duration, "max-runtime", CHILDREN,
        "Longest any child may run, e.g. 30s: then SIGTERM, 2 s, SIGKILL (default: no limit).";
    max_output: Bytes, Bytes, "max-output", CHILDREN,
        "Most bytes of stdout+stderr the plugin may read from one child, e.g. 16MiB; a child that writes more is killed (default: no limit).";
    rlimit_cpu: u64, Count, "rlimit-cpu", RLIMITS,
        "Each child's CPU time in seconds (RLIMIT_CPU: SIGXCPU, then SIGKILL).";
    rlimit_as: Bytes, Bytes, "rlimit-as", RLIMITS,
        "Each child's address space, e.g. 1GiB (RLIMIT_AS).";
    rlimit_nofile: u64, Count, "rlimit-nofile", RLIMITS,
        "Each child's open files (RLIMIT_NOFILE).";
    rlimit_fsize: Bytes, Bytes, "rlimit-fsize", RLIMITS,
        "The largest file a child may write, e.g. 100MiB (RLIMIT_FSIZE).";
    rlimit_nproc: u64, Count, "rlimit-nproc", RLIMITS,
        "Processes of the user, counted by the kernel (RLIMIT_NPROC; not enforced for root).";
    die_with_procbox: bool, Switch, "die-with-procbox", RLIMITS,
        "Kill each child if procbox itself dies, even by SIGKILL (PR_SET_PDEATHSIG).";
    max_processes: u64, Count, "max-processes", TREE,
        "Most processes of the whole tree at once, grandchildren included; a fork past it fails with EAGAIN (a pids cgroup; default: no limit).";
    max_tree_memory: Bytes, Bytes, "max-tree-memory", TREE,
        "Memory of the whole tree together, e.g. 1GiB; past it the kernel's OOM killer picks within the tree (a memory cgroup; default: no limit).";
    max_plugin_memory: Bytes, Bytes, "max-plugin-memory", PLUGIN,
        "Cap on all the plugin's linear memories and tables together, e.g. 256MiB (default 512MiB).";
    max_plugin_time: Span, Duration, "max-plugin-time", PLUGIN,
        "Budget for the whole plugin run, e.g. 10m; exit status 124 when it runs out (default: no limit).";
    max_handles: usize, Count, "max-handles", PLUGIN,
        "Handles (children, streams, pollables) the plugin may hold at once (default 10000).";
}

impl LimitSettings {
    /// The limits on children these settings describe.
    pub fn limits(&self) -> Limits {
        Limits {
            max_children: self.max_children,
            max_spawns: self.max_spawns,
            max_runtime: self.max_runtime.map(|s| s.0),
            max_output_bytes: self.max_output.map(|b| b.0),
            rlimits: ChildRlimits {
                cpu_seconds: self.rlimit_cpu,
                address_space: self.rlimit_as.map(|b| b.0),
                open_files: self.rlimit_nofile,
                file_size: self.rlimit_fsize.map(|b| b.0),
                processes: self.rlimit_nproc,
            },
            // Off is the default: only `true` asks for anything.
            die_with_host: self.die_with_procbox.filter(|on| *on),
            tree: crate::process_tree::cgroup::TreeLimits {
                max_processes: self.max_processes,
                max_memory: self.max_tree_memory.map(|b| b.0),
            },
        }
    }

    /// The limits on the plugin itself these settings describe.
    pub fn plugin_limits(&self) -> PluginLimits {
        PluginLimits {
            max_memory_bytes: self.max_plugin_memory.map(|b| b.0),
            max_handles: self.max_handles,
            max_time: self.max_plugin_time.map(|s| s.0),
        }
    }

    /// Whether no knob is set.
    pub fn is_empty(&self) -> bool {
        *self == LimitSettings::default()
    }
}

impl fmt::Display for Knob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "--{}", self.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_field_of_the_toml_schema_is_a_knob_and_every_knob_a_field() {
        // serde names every field it accepts when it meets an unknown one.
        let error = toml::from_str::<LimitSettings>("no-such-knob = 1")
            .unwrap_err()
            .to_string();
        let fields: Vec<&str> = error
            .split('`')
            .skip(3) // "unknown field `no-such-knob`, expected one of ..."
            .step_by(2)
            .collect();
        let names: Vec<&str> = KNOBS.iter().map(|k| k.name).collect();
        assert_eq!(fields, names, "{error}");
    }

    #[test]
    fn a_knob_set_by_name_reads_as_in_toml() {
        let cases: &[(&str, &str, &str)] = &[
            // name, flag value, the same in TOML
            ("max-children", "8", "max-children = 8"),
            ("max-output", "16MiB", "max-output = \"16MiB\""),
            ("max-output", "65536", "max-output = 65536"),
            ("max-runtime", "30s", "max-runtime = \"30s\""),
            ("die-with-procbox", "true", "die-with-procbox = true"),
            ("max-plugin-memory", "256MiB", "max-plugin-memory = \"256MiB\""),
        ];
        for (name, flag, toml_text) in cases {
            let mut from_flag = LimitSettings::default();
            from_flag.set(name, flag).unwrap();
            let from_toml: LimitSettings = toml::from_str(toml_text).unwrap();
            assert_eq!(from_flag, from_toml, "{name}");
        }
    }

    #[test]
    fn bad_values_are_refused_with_the_reason() {
        let mut settings = LimitSettings::default();
        let err = settings.set("max-output", "lots").unwrap_err().to_string();
        assert!(err.starts_with("\"lots\" is not a size like"), "{err}");
        let err = settings.set("max-children", "-1").unwrap_err().to_string();
        assert!(err.contains("invalid digit"), "{err}");
        assert!(settings.set("max-everything", "1").is_err());
    }

    #[test]
    fn settings_map_onto_the_policy_limits() {
        let mut settings = LimitSettings::default();
        for (name, value) in [
            ("max-children", "3"),
            ("max-runtime", "2s"),
            ("rlimit-as", "1GiB"),
            ("max-handles", "9"),
            ("die-with-procbox", "false"),
        ] {
            settings.set(name, value).unwrap();
        }
        let limits = settings.limits();
        assert_eq!(limits.max_children, Some(3));
        assert_eq!(limits.max_runtime, Some(Duration::from_secs(2)));
        assert_eq!(limits.rlimits.address_space, Some(1 << 30));
        assert_eq!(limits.die_with_host, None, "false is the default, not a request");
        assert_eq!(settings.plugin_limits().max_handles, Some(9));
    }
}
