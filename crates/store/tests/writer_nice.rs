//! `[store] writer_nice` (s28-nice): the store's writer thread and its sync thread run at the
//! nice value the options give. Its own test binary with one test: the threads are found by
//! name in this process, so no other store may be open in it meanwhile.

#![cfg(target_os = "linux")]

use std::time::{Duration, Instant};
use suanpan_store::{OpenOptions, SqliteStore};

/// The nice value of each of this process's threads named `name`.
fn nice_of_threads(name: &str) -> Vec<i64> {
    let mut found = Vec::new();
    for task in std::fs::read_dir("/proc/self/task")
        .expect("tasks")
        .flatten()
    {
        let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
        if comm.trim() != name {
            continue;
        }
        found.push(nice_in(&task.path().join("stat")));
    }
    found
}

/// Waits until every thread named `name` runs at `nice` (they set it as they start).
fn wait_for(name: &str, nice: i64) -> Vec<i64> {
    let start = Instant::now();
    loop {
        let seen = nice_of_threads(name);
        if (!seen.is_empty() && seen.iter().all(|n| *n == nice))
            || start.elapsed() > Duration::from_secs(5)
        {
            return seen;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// This thread's nice value.
fn own_nice() -> i64 {
    nice_in(std::path::Path::new("/proc/thread-self/stat"))
}

/// The nice value a task's `stat` file holds (field 19).
fn nice_in(stat: &std::path::Path) -> i64 {
    let stat = std::fs::read_to_string(stat).expect("stat");
    // The fields after the command name's closing parenthesis start at field 3.
    let rest = &stat[stat.rfind(')').expect("comm") + 2..];
    rest.split(' ')
        .nth(19 - 3)
        .expect("nice")
        .parse()
        .expect("number")
}

#[test]
fn the_writer_and_its_sync_thread_run_at_the_configured_nice_value() {
    let inherited = own_nice();
    // 0, the default: the threads keep what they inherit.
    let dir = tempfile::tempdir().expect("dir");
    let store = SqliteStore::create(dir.path(), OpenOptions::default()).expect("store");
    assert_eq!(wait_for("suanpan-writer", inherited), vec![inherited]);
    assert_eq!(wait_for("suanpan-sync", inherited), vec![inherited]);
    drop(store);
    assert!(nice_of_threads("suanpan-writer").is_empty(), "closed");

    // A lower priority than the default: allowed without privilege, so this runs anywhere.
    let wanted = (inherited + 7).min(19);
    let dir = tempfile::tempdir().expect("dir");
    let opts = OpenOptions {
        writer_nice: i32::try_from(wanted).expect("nice"),
        ..OpenOptions::default()
    };
    let store = SqliteStore::create(dir.path(), opts).expect("store");
    assert_eq!(wait_for("suanpan-writer", wanted), vec![wanted]);
    assert_eq!(wait_for("suanpan-sync", wanted), vec![wanted]);
    // Only those: the thread that opened the store keeps its own.
    assert_eq!(own_nice(), inherited);
    drop(store);
}
