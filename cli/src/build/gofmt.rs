//! Values printed as docker's Go code prints them into history entries (`%q` of strings,
//! string lists and integers, `%v` of string lists, `time.Duration`'s `String`), so
//! that `created_by` reads exactly as docker's classic builder writes it.

use std::time::Duration;

/// Go's `%q` of a string: `"a \"b\""`.
pub fn quote(s: &str) -> String {
    crate::dockerfile::print::go_quote(s)
}

/// Go's `%q` of a string slice: `["/bin/sh" "-c" "echo hi"]`.
pub fn quote_list(v: &[String]) -> String {
    let items: Vec<String> = v.iter().map(|s| quote(s)).collect();
    format!("[{}]", items.join(" "))
}

/// Go's `%v` of a string slice: `[/data /logs]`.
pub fn list(v: &[String]) -> String {
    format!("[{}]", v.join(" "))
}

/// Go's `%q` of an integer: the character literal of that code point (`'\x04'`).
pub fn quote_int(n: u32) -> String {
    let c = char::from_u32(n).unwrap_or('\u{fffd}');
    let q = quote(&c.to_string());
    let inner = &q[1..q.len() - 1];
    match c {
        '"' => "'\"'".into(),
        '\'' => "'\\''".into(),
        _ => format!("'{inner}'"),
    }
}

/// `v / 10^digits` with its fraction, trailing zeros dropped (`1.5`, `2`).
fn decimal(v: u128, digits: u32) -> String {
    let unit = 10u128.pow(digits);
    let (whole, frac) = (v / unit, v % unit);
    if frac == 0 {
        return whole.to_string();
    }
    let f = format!("{frac:0width$}", width = digits as usize);
    format!("{whole}.{}", f.trim_end_matches('0'))
}

/// Go's `time.Duration.String`: `0s`, `1.5s`, `1m30s`, `2h0m0s`, `100ms`, `1µs`, `5ns`.
pub fn duration(d: Duration) -> String {
    let ns = d.as_nanos();
    if ns == 0 {
        return "0s".into();
    }
    if ns < 1_000 {
        return format!("{ns}ns");
    }
    if ns < 1_000_000 {
        return format!("{}µs", decimal(ns, 3));
    }
    if ns < 1_000_000_000 {
        return format!("{}ms", decimal(ns, 6));
    }
    let (h, m) = (ns / 3_600_000_000_000, (ns / 60_000_000_000) % 60);
    let s = format!("{}s", decimal(ns % 60_000_000_000, 9));
    match (h, m) {
        (0, 0) => s,
        (0, m) => format!("{m}m{s}"),
        (h, m) => format!("{h}h{m}m{s}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_and_lists_as_go_quotes_them() {
        assert_eq!(quote("echo \"x\" \\ $HOME\n"), r#""echo \"x\" \\ $HOME\n""#);
        assert_eq!(quote("tab\there é"), "\"tab\\there é\"");
        assert_eq!(
            quote_list(&["/bin/sh".into(), "-c".into(), "echo hi".into()]),
            r#"["/bin/sh" "-c" "echo hi"]"#
        );
        assert_eq!(list(&["/data".into(), "/logs".into()]), "[/data /logs]");
        assert_eq!(quote_int(4), r"'\x04'");
        assert_eq!(quote_int(10), r"'\n'");
        assert_eq!(quote_int(65), "'A'");
        assert_eq!(quote_int(39), r"'\''");
        assert_eq!(quote_int(34), "'\"'");
    }

    #[test]
    fn durations_as_go_prints_them() {
        let s = Duration::from_secs;
        assert_eq!(duration(Duration::ZERO), "0s");
        assert_eq!(duration(s(5)), "5s");
        assert_eq!(duration(s(90)), "1m30s");
        assert_eq!(duration(s(7200)), "2h0m0s");
        assert_eq!(duration(Duration::from_millis(1500)), "1.5s");
        assert_eq!(duration(Duration::from_millis(100)), "100ms");
        assert_eq!(duration(Duration::from_nanos(1500)), "1.5µs");
        assert_eq!(duration(Duration::from_nanos(5)), "5ns");
    }
}
