//! Path patterns as docker matches them: `*` and `?` within one path element, `[a-z]`
//! classes, `\` escapes, and (in `.dockerignore`) `**` for any number of elements.

/// Whether `path` (elements separated by `/`, no leading `/`) matches `pattern`; `**`
/// crosses elements only when `double_star` is set (`.dockerignore`, not COPY sources).
pub fn matches(pattern: &str, path: &str, double_star: bool) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let s: Vec<char> = path.chars().collect();
    match_here(&p, &s, double_star)
}

/// Whether `pattern` holds a wildcard (and so names a set of paths).
pub fn has_wildcard(pattern: &str) -> bool {
    pattern.contains(['*', '?', '['])
}

fn match_here(p: &[char], s: &[char], ds: bool) -> bool {
    match p.first() {
        None => s.is_empty(),
        Some('*') if ds && p.get(1) == Some(&'*') => {
            let rest = &p[2..];
            if rest.first() == Some(&'/') && match_here(&rest[1..], s, ds) {
                return true;
            }
            (0..=s.len()).any(|i| match_here(rest, &s[i..], ds))
        }
        Some('*') => {
            for i in 0..=s.len() {
                if i > 0 && s[i - 1] == '/' {
                    break;
                }
                if match_here(&p[1..], &s[i..], ds) {
                    return true;
                }
            }
            false
        }
        Some('?') => s.first().is_some_and(|&c| c != '/') && match_here(&p[1..], &s[1..], ds),
        Some('[') => match (s.first(), class(&p[1..])) {
            (Some(&c), Some((set, negated, len))) if c != '/' => {
                let hit = set.iter().any(|&(lo, hi)| lo <= c && c <= hi);
                hit != negated && match_here(&p[1 + len..], &s[1..], ds)
            }
            _ => false,
        },
        Some('\\') if p.len() > 1 => s.first() == Some(&p[1]) && match_here(&p[2..], &s[1..], ds),
        Some(&c) => s.first() == Some(&c) && match_here(&p[1..], &s[1..], ds),
    }
}

/// A `[...]` class: its ranges, whether it is negated, and how many characters it
/// takes after its `[` up to and with its `]`.
type Class = (Vec<(char, char)>, bool, usize);

/// The class after a `[`.
fn class(p: &[char]) -> Option<Class> {
    let mut i = 0;
    let negated = matches!(p.first(), Some('^' | '!'));
    if negated {
        i += 1;
    }
    let mut set = Vec::new();
    let mut first = true;
    while i < p.len() {
        if p[i] == ']' && !first {
            return Some((set, negated, i + 1));
        }
        first = false;
        let mut lo = p[i];
        if lo == '\\' && i + 1 < p.len() {
            i += 1;
            lo = p[i];
        }
        let mut hi = lo;
        if p.get(i + 1) == Some(&'-') && p.get(i + 2).is_some_and(|&c| c != ']') {
            hi = p[i + 2];
            i += 2;
        }
        set.push((lo, hi));
        i += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn stars_stay_in_one_element_unless_doubled() {
        assert!(matches("*.txt", "a.txt", false));
        assert!(!matches("*.txt", "d/a.txt", false));
        assert!(matches("**/*.txt", "d/e/a.txt", true));
        assert!(matches("**/*.txt", "a.txt", true));
        assert!(matches("d/**", "d/e/f", true));
        assert!(matches("f?le[0-9]", "file7", false));
        assert!(!matches("f?le[!0-9]", "file7", false));
        assert!(matches("a\\*", "a*", false));
    }
}
