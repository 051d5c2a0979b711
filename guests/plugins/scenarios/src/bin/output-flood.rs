//! `cat /dev/zero` never ends by itself: the policy's output cap of 1 MiB
//! stops it, and its status says the output was truncated.

use procbox_sdk::Command;

fn main() {
    scenarios::run(|_| {
        let out = Command::new("cat").arg("/dev/zero").unchecked().output()?;
        assert!(out.status.output_truncated);
        assert_eq!(out.stdout.len(), 1 << 20, "exactly the cap");
        assert_eq!(out.status.signal(), Some(9));
        Ok(())
    });
}
