//! The pieces of the command line, one per concern.

/// `writeln!` into a `String` of command output (see [`output::emit`]),
/// which cannot fail.
macro_rules! outln {
    ($out:expr, $($arg:tt)*) => {{
        use std::fmt::Write as _;
        let _ = writeln!($out, $($arg)*);
    }};
}

pub mod explain;
pub mod failure;
pub mod grants;
pub mod inspect;
pub mod output;
pub mod progress;
pub mod scaffold;
