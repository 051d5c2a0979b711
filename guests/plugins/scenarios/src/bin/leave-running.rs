//! Starts a tree and ends without waiting for it or dropping its handle;
//! the host checks that none of it survives.

fn main() {
    scenarios::run(|_| {
        std::mem::forget(scenarios::start_tree()?);
        Ok(())
    });
}
