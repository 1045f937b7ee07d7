//! `top`: which host processes are a container's (those in its first process's pid
//! namespace), and the rows of the host's `ps` output that are theirs, as docker does.

use std::collections::BTreeSet;

/// The host pids of the processes in the pid namespace of `init`.
pub fn pids_of(init: i32) -> BTreeSet<i32> {
    let ns = |pid: &str| std::fs::read_link(format!("/proc/{pid}/ns/pid")).ok();
    let Some(theirs) = ns(&init.to_string()) else {
        return BTreeSet::new();
    };
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return BTreeSet::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|p| ns(&p.to_string()).as_ref() == Some(&theirs))
        .collect()
}

/// The header and the rows of `ps` output whose PID column names one of `pids`; `None`
/// when the output has no PID column.
pub fn filter_ps(output: &str, pids: &BTreeSet<i32>) -> Option<Vec<String>> {
    let mut lines = output.lines();
    let header = lines.next()?;
    let col = header.split_whitespace().position(|h| h == "PID")?;
    let mut out = vec![header.to_string()];
    out.extend(
        lines
            .filter(|l| {
                l.split_whitespace()
                    .nth(col)
                    .and_then(|p| p.parse().ok())
                    .is_some_and(|p: i32| pids.contains(&p))
            })
            .map(str::to_string),
    );
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_containers_rows_are_kept() {
        let ps = "UID PID PPID CMD\nroot 1 0 init\nroot 42 1 sleep 9\nroot 43 1 other\n";
        let pids = BTreeSet::from([42]);
        assert_eq!(
            filter_ps(ps, &pids).unwrap(),
            ["UID PID PPID CMD", "root 42 1 sleep 9"]
        );
        assert!(filter_ps("UID CMD\n", &pids).is_none());
        assert!(pids_of(std::process::id() as i32).contains(&(std::process::id() as i32)));
    }
}
