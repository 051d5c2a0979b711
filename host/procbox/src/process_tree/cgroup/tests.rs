use super::*;

const MOUNTINFO: &str = "\
35 28 0:30 / /sys/fs/cgroup/pids rw,nosuid - cgroup cgroup rw,pids
36 28 0:31 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid - cgroup cgroup rw,cpu,cpuacct
37 28 0:32 / /sys/fs/cgroup/unified rw,nosuid - cgroup2 cgroup2 rw
";
const CGROUP: &str = "8:pids:/user.slice\n3:cpu,cpuacct:/\n0::/user.slice/session-1.scope\n";

#[test]
fn the_v1_hierarchy_of_a_controller_is_found_with_our_place_in_it() {
    let place = v1_place(MOUNTINFO, CGROUP, "pids").unwrap();
    assert_eq!(place.parent, Path::new("/sys/fs/cgroup/pids/user.slice"));
    assert!(!place.unified);
    assert!(v1_place(MOUNTINFO, CGROUP, "memory").is_none());
    let cpu = v1_place(MOUNTINFO, CGROUP, "cpuacct").unwrap();
    assert_eq!(cpu.parent, Path::new("/sys/fs/cgroup/cpu,cpuacct"));
}

#[test]
fn the_pids_limit_leaves_room_for_procbox_s_own_processes() {
    let place = Place {
        parent: PathBuf::new(),
        unified: false,
    };
    let limits = TreeLimits {
        max_processes: Some(5),
        max_memory: Some(1 << 30),
    };
    assert_eq!(place.limit_file("pids", &limits, own_processes(true)), ("pids.max", 7));
    assert_eq!(place.limit_file("pids", &limits, own_processes(false)), ("pids.max", 6));
    assert_eq!(
        place.limit_file("memory", &limits, 2),
        ("memory.limit_in_bytes", 1 << 30)
    );
    let unified = Place {
        parent: PathBuf::new(),
        unified: true,
    };
    assert_eq!(unified.limit_file("memory", &limits, 2), ("memory.max", 1 << 30));
}
