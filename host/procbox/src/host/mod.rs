//! Implementations of the WIT interface, one file per interface or resource.

mod child;
mod process;
#[cfg(test)]
mod tests;
mod v0_1;
