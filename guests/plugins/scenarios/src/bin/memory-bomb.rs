//! Starts a tree, then allocates (and touches) memory until the plugin's
//! memory cap stops it.

fn main() {
    scenarios::run(|_| {
        let _tree = scenarios::start_tree()?;
        let mut hoard: Vec<Vec<u8>> = Vec::new();
        loop {
            hoard.push(vec![1u8; 16 << 20]);
            std::hint::black_box(&hoard);
        }
    });
}
