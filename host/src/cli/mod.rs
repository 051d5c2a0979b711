//! The pieces of the command line, one per concern.

pub mod explain;
pub mod grants;
pub mod inspect;
pub mod scaffold;
