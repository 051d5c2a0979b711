//! `forge-handle NUMBER`: forges a child handle from a bare number and
//! tries to SIGKILL it. The host must trap: a plugin can only signal the
//! children it holds. Reaching the end of this plugin is the failure.

/// Raw bindings, since the SDK cannot forge a handle.
mod raw {
    wit_bindgen::generate!({
        path: "../../../wit",
        inline: "package procbox:scenarios; world forge { import procbox:host/process@0.1.0; }",
        world: "procbox:scenarios/forge",
        generate_all,
    });
}

use raw::procbox::host0_1_0::process::{Child, Signal};

#[inline(never)]
fn forge(handle: u32) {
    // SAFETY: deliberately unsound; that is the point of the scenario.
    let forged = unsafe { Child::from_handle(handle) };
    let result = forged.send_signal(Signal::Kill);
    panic!("the forged handle {handle} did not trap: {result:?}");
}

fn main() {
    forge(std::env::args().nth(1).expect("a handle").parse().expect("a number"));
}
