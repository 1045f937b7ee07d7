//! "did you mean …?": the closest known name within an edit distance of two.

/// Levenshtein distance between `a` and `b`, counted in characters.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// The option closest to `value` (distance under 3), or None if there is none or `value`
/// is itself an option. Without `case_sensitive` the match is compared in lower case and
/// given back in `value`'s case when that is all lower or all upper.
pub fn suggest<S: AsRef<str>>(value: &str, options: &[S], case_sensitive: bool) -> Option<String> {
    let fold = |s: &str| {
        if case_sensitive {
            s.to_string()
        } else {
            s.to_lowercase()
        }
    };
    let val = fold(value);
    let mut best: Option<String> = None;
    let mut min = 3;
    for opt in options {
        let opt = fold(opt.as_ref());
        if opt == val {
            return None;
        }
        let d = distance(&val, &opt);
        if d < min {
            min = d;
            best = Some(opt);
        }
    }
    let found = best?;
    if !case_sensitive && value != value.to_lowercase() && value == value.to_uppercase() {
        return Some(found.to_uppercase());
    }
    Some(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_names() {
        let names = ["RUN", "COPY", "FROM"];
        assert_eq!(suggest("RUNN", &names, false).as_deref(), Some("RUN"));
        assert_eq!(suggest("runn", &names, false).as_deref(), Some("run"));
        assert_eq!(suggest("COPYY", &names, false).as_deref(), Some("COPY"));
        assert_eq!(suggest("XYZZY", &names, false), None);
        assert_eq!(suggest("RUN", &names, false), None);
        assert_eq!(
            suggest("chmode", &["chmod", "chown"], true).as_deref(),
            Some("chmod")
        );
    }
}
