//! Starts a tree, then traps (an `unreachable` instruction); the host
//! checks that none of the tree survives.

fn main() {
    scenarios::run(|_| {
        std::mem::forget(scenarios::start_tree()?);
        core::arch::wasm32::unreachable()
    });
}
