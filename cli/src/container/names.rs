//! Container names: docker's rules, and random `adjective_noun` names.

/// Whether `name` is a valid container name (`[a-zA-Z0-9][a-zA-Z0-9_.-]+`).
pub fn valid_name(name: &str) -> bool {
    let b = name.as_bytes();
    b.len() >= 2
        && b[0].is_ascii_alphanumeric()
        && b[1..]
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'))
}

const ADJECTIVES: &[&str] = &[
    "admiring", "brave", "busy", "calm", "clever", "eager", "elated", "epic", "focused", "gallant",
    "happy", "jolly", "keen", "kind", "lucid", "modest", "nifty", "quirky", "relaxed", "serene",
    "sharp", "stoic", "tender", "vibrant", "wizardly", "zealous",
];
const NOUNS: &[&str] = &[
    "babbage", "curie", "darwin", "einstein", "euler", "fermi", "galois", "hopper", "hypatia",
    "kepler", "knuth", "lamport", "lovelace", "meitner", "newton", "noether", "pascal", "ritchie",
    "shannon", "thompson", "torvalds", "turing", "wozniak",
];

/// A random name from 16 random bytes' worth of choice.
pub fn random_name(random: &[u8]) -> String {
    let a = ADJECTIVES[random[0] as usize % ADJECTIVES.len()];
    let n = NOUNS[random[1] as usize % NOUNS.len()];
    format!("{a}_{n}")
}

/// `n` random bytes from the kernel.
pub fn random_bytes(n: usize) -> std::io::Result<Vec<u8>> {
    let mut buf = vec![0u8; n];
    let mut filled = 0;
    while filled < n {
        match rustix::rand::getrandom(&mut buf[filled..], rustix::rand::GetRandomFlags::empty()) {
            Ok(k) => filled += k,
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_docker_rules() {
        assert!(valid_name("web-1"));
        assert!(valid_name("a.b_c"));
        assert!(!valid_name("a"));
        assert!(!valid_name("-x"));
        assert!(!valid_name("a/b"));
        assert!(valid_name(&random_name(&[200, 7])));
    }
}
