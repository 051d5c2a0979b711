//! `tree-usage measure|plain PROGRAM [ARGS...]`: runs the command (with
//! `measure_tree` for `measure`) and prints what its exit status says of
//! its whole tree: `tree=none`, or `tree_peak=BYTES tree_cpu_ns=NS`.

use procbox_sdk::Command;

fn main() {
    scenarios::run(|args| {
        let (mode, command) = args.split_first().expect("measure|plain PROGRAM [ARGS...]");
        let (program, rest) = command.split_first().expect("a program");
        let mut command = Command::new(program);
        command.args(rest);
        if mode == "measure" {
            command.measure_tree();
        }
        let status = command.status()?;
        match status.tree_usage {
            None => println!("tree=none"),
            Some(tree) => println!(
                "tree_peak={} tree_cpu_ns={}",
                tree.peak_memory_bytes,
                (tree.user_cpu + tree.system_cpu).as_nanos()
            ),
        }
        Ok(())
    });
}
