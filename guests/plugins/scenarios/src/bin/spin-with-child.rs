//! Starts a tree, then spins forever without yielding: only the plugin's
//! time budget or a signal to procbox stops it.

fn main() {
    scenarios::run(|_| {
        let _tree = scenarios::start_tree()?;
        let mut x: u64 = 0;
        loop {
            x = std::hint::black_box(x.wrapping_add(1));
        }
    });
}
