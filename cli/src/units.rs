//! Sizes as docker reads them from the command line and Dockerfiles.

/// Bytes in a size like `64m`, `1.5GiB`, `10MB`, `100`: docker's `RAMInBytes`, binary
/// multiples, an optional `b` or `ib` after the unit; `None` when it is not a size.
pub fn ram_in_bytes(s: &str) -> Option<u64> {
    let t = s.trim();
    let num_len = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let n: f64 = t[..num_len].parse().ok()?;
    let unit = t[num_len..].trim_start_matches(' ').to_ascii_lowercase();
    let unit = unit.trim_end_matches('b').trim_end_matches('i');
    let mult: u64 = match unit {
        "" => 1,
        "k" => 1 << 10,
        "m" => 1 << 20,
        "g" => 1 << 30,
        "t" => 1 << 40,
        "p" => 1 << 50,
        _ => return None,
    };
    Some((n * mult as f64) as u64)
}

#[cfg(test)]
mod tests {
    use super::ram_in_bytes;

    #[test]
    fn sizes_as_docker_reads_them() {
        assert_eq!(ram_in_bytes("64m"), Some(64 << 20));
        assert_eq!(ram_in_bytes("1GiB"), Some(1 << 30));
        assert_eq!(ram_in_bytes("1g"), Some(1 << 30));
        assert_eq!(ram_in_bytes("64k"), Some(64 << 10));
        assert_eq!(ram_in_bytes("10MB"), Some(10 << 20));
        assert_eq!(ram_in_bytes("100"), Some(100));
        assert_eq!(ram_in_bytes("x"), None);
        assert_eq!(ram_in_bytes("5q"), None);
        assert_eq!(ram_in_bytes("-1"), None);
    }
}
