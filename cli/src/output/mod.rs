//! What users see: sizes, ages, timestamps, `--format` templates, tables and
//! `--filter` parsing, all as the docker CLI prints them.
//!
//! - sizes: go-units `HumanSizeWithPrecision` (decimal units, `%.Ng`);
//! - ages: go-units `HumanDuration` + ` ago`;
//! - templates: a Go `text/template` subset ([`Template`]);
//! - tables: docker's `table …` formats aligned as docker's tabwriter does ([`align_table`]).

mod ordered;
mod template;

pub use ordered::{Field, Ordered};
pub use template::{go_string, Template, TemplateError};

use serde_json::Value;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// Headers of `docker images` fields (docker's `newImageContext`).
pub const IMAGES_HEADERS: &[(&str, &str)] = &[
    ("ID", "IMAGE ID"),
    ("Repository", "REPOSITORY"),
    ("Tag", "TAG"),
    ("Digest", "DIGEST"),
    ("CreatedSince", "CREATED"),
    ("CreatedAt", "CREATED AT"),
    ("Size", "SIZE"),
    ("Containers", "CONTAINERS"),
    ("VirtualSize", "SIZE"),
    ("SharedSize", "SHARED SIZE"),
    ("UniqueSize", "UNIQUE SIZE"),
];

/// Headers of `docker history` fields.
pub const HISTORY_HEADERS: &[(&str, &str)] = &[
    ("ID", "IMAGE"),
    ("CreatedSince", "CREATED"),
    ("CreatedAt", "CREATED AT"),
    ("CreatedBy", "CREATED BY"),
    ("Size", "SIZE"),
    ("Comment", "COMMENT"),
];

/// Headers of `docker system df` summary fields.
pub const SYSTEM_DF_HEADERS: &[(&str, &str)] = &[
    ("Type", "TYPE"),
    ("TotalCount", "TOTAL"),
    ("Active", "ACTIVE"),
    ("Size", "SIZE"),
    ("Reclaimable", "RECLAIMABLE"),
];

/// docker's default `images` table.
pub const DEFAULT_IMAGES_FORMAT: &str =
    "table {{.Repository}}\\t{{.Tag}}\\t{{.ID}}\\t{{if .CreatedSince }}{{.CreatedSince}}{{else}}N/A{{end}}\\t{{.Size}}";
/// docker's `images --digests` table.
pub const DEFAULT_IMAGES_DIGEST_FORMAT: &str = "table {{.Repository}}\\t{{.Tag}}\\t{{.Digest}}\\t{{.ID}}\\t{{if .CreatedSince }}{{.CreatedSince}}{{else}}N/A{{end}}\\t{{.Size}}";
/// docker's default `history` table (`--human`).
pub const DEFAULT_HISTORY_FORMAT: &str =
    "table {{.ID}}\\t{{.CreatedSince}}\\t{{.CreatedBy}}\\t{{.Size}}\\t{{.Comment}}";
/// docker's `history --human=false` table.
pub const NON_HUMAN_HISTORY_FORMAT: &str =
    "table {{.ID}}\\t{{.CreatedAt}}\\t{{.CreatedBy}}\\t{{.Size}}\\t{{.Comment}}";
/// docker's default `system df` table.
pub const DEFAULT_SYSTEM_DF_FORMAT: &str =
    "table {{.Type}}\\t{{.TotalCount}}\\t{{.Active}}\\t{{.Size}}\\t{{.Reclaimable}}";

/// Size as `docker images` prints it: go-units `HumanSizeWithPrecision(size, 3)`,
/// e.g. `0B`, `999B`, `1kB`, `4.27kB`, `1.24MB`, `95.2MB`.
pub fn human_size(bytes: u64) -> String {
    human_size_with_precision(bytes as f64, 3)
}

/// go-units `HumanSize` (4 significant digits), as `docker system df` and
/// `images --format '{{.SharedSize}}'` print: `3.464GB`, `71.02kB`.
pub fn human_size_df(bytes: u64) -> String {
    human_size_with_precision(bytes as f64, 4)
}

/// go-units `HumanSizeWithPrecision`: divide by 1000 while ≥ 1000, then `%.{p}g`
/// with the unit (`B kB MB GB TB PB EB ZB YB`). Like docker this can print
/// `1e+03kB` for 999,999 bytes.
pub fn human_size_with_precision(size: f64, precision: usize) -> String {
    const UNITS: [&str; 9] = ["B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"];
    let mut size = size;
    let mut i = 0;
    while size >= 1000.0 && i < UNITS.len() - 1 {
        size /= 1000.0;
        i += 1;
    }
    format!("{}{}", go_format_g(size, Some(precision.max(1))), UNITS[i])
}

/// Go's `%g` (`prec` = None is `%v`'s shortest form, e-notation from 1e21).
pub(crate) fn go_format_g(v: f64, prec: Option<usize>) -> String {
    if v == 0.0 {
        return "0".to_string();
    }
    if !v.is_finite() {
        return if v.is_nan() {
            "NaN".into()
        } else if v > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        };
    }
    let e = match prec {
        Some(p) => format!("{:.*e}", p - 1, v),
        None => format!("{v:e}"),
    };
    let (mant, exp) = e.split_once('e').unwrap_or((&e, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let neg = mant.starts_with('-');
    let digits: String = mant.chars().filter(|c| c.is_ascii_digit()).collect();
    let digits = digits.trim_end_matches('0');
    let digits = if digits.is_empty() { "0" } else { digits };
    let eprec = match prec {
        Some(p) => p as i32,
        None => 21,
    };
    let mut out = String::new();
    if neg {
        out.push('-');
    }
    if exp < -4 || exp >= eprec {
        out.push_str(&digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        out.push('e');
        out.push(if exp < 0 { '-' } else { '+' });
        out.push_str(&format!("{:02}", exp.abs()));
    } else {
        let dp = exp + 1;
        if dp <= 0 {
            out.push_str("0.");
            out.push_str(&"0".repeat((-dp) as usize));
            out.push_str(digits);
        } else if dp as usize >= digits.len() {
            out.push_str(digits);
            out.push_str(&"0".repeat(dp as usize - digits.len()));
        } else {
            out.push_str(&digits[..dp as usize]);
            out.push('.');
            out.push_str(&digits[dp as usize..]);
        }
    }
    out
}

/// go-units `HumanDuration` of a number of seconds: `Less than a second`,
/// `1 second`, `About a minute`, `3 minutes`, `About an hour`, `2 hours`,
/// `2 days`, `3 weeks`, `4 months`, `2 years`.
pub fn human_duration(seconds: i64) -> String {
    if seconds < 1 {
        return "Less than a second".into();
    }
    if seconds == 1 {
        return "1 second".into();
    }
    if seconds < 60 {
        return format!("{seconds} seconds");
    }
    let minutes = seconds / 60;
    if minutes == 1 {
        return "About a minute".into();
    }
    if minutes < 60 {
        return format!("{minutes} minutes");
    }
    // Go: int(d.Hours() + 0.5)
    let hours = (seconds as f64 / 3600.0 + 0.5) as i64;
    if hours == 1 {
        return "About an hour".into();
    }
    if hours < 48 {
        return format!("{hours} hours");
    }
    if hours < 24 * 7 * 2 {
        return format!("{} days", hours / 24);
    }
    if hours < 24 * 30 * 2 {
        return format!("{} weeks", hours / 24 / 7);
    }
    if hours < 24 * 365 * 2 {
        return format!("{} months", hours / 24 / 30);
    }
    format!("{} years", seconds / 3600 / 24 / 365)
}

/// docker's CREATED column: `human_duration(now - created) + " ago"`.
pub fn human_ago(created_unix: i64, now_unix: i64) -> String {
    format!(
        "{} ago",
        human_duration(now_unix.saturating_sub(created_unix))
    )
}

/// Seconds since the epoch of an RFC 3339 timestamp (`2024-01-02T03:04:05Z`,
/// fractions and offsets allowed).
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    parse_rfc3339_nanos(s).map(|(secs, _)| secs)
}

/// Seconds and nanoseconds of an RFC 3339 timestamp.
pub fn parse_rfc3339_nanos(s: &str) -> Option<(i64, u32)> {
    let t = OffsetDateTime::parse(s.trim(), &Rfc3339).ok()?;
    Some((t.unix_timestamp(), t.nanosecond()))
}

fn utc(unix: i64, nanos: u32) -> OffsetDateTime {
    let t = OffsetDateTime::from_unix_timestamp(unix).unwrap_or(OffsetDateTime::UNIX_EPOCH);
    t.replace_nanosecond(nanos.min(999_999_999)).unwrap_or(t)
}

/// Go's `time.RFC3339Nano` in UTC, as `docker inspect` prints `Created`:
/// `2024-01-02T03:04:05.123456789Z`, trailing fraction zeros dropped
/// (`…:05.1Z`, `…:05Z`).
pub fn rfc3339(unix: i64, nanos: u32) -> String {
    let t = utc(unix, nanos);
    let mut s = date_time(&t, 'T');
    if t.nanosecond() != 0 {
        let frac = format!("{:09}", t.nanosecond());
        s.push('.');
        s.push_str(frac.trim_end_matches('0'));
    }
    s.push('Z');
    s
}

/// Go's `time.Time.String()` in UTC, as `docker images --format '{{.CreatedAt}}'`
/// prints: `2024-01-02 03:04:05 +0000 UTC`.
pub fn created_at(unix: i64) -> String {
    format!("{} +0000 UTC", date_time(&utc(unix, 0), ' '))
}

/// `YYYY-MM-DD{sep}hh:mm:ss` of a time.
fn date_time(t: &OffsetDateTime, sep: char) -> String {
    format!(
        "{:04}-{:02}-{:02}{sep}{:02}:{:02}:{:02}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// docker's format preprocessing: the two-character sequences `\t` and `\n`
/// become a tab and a newline.
pub fn expand_escapes(format: &str) -> String {
    format.replace("\\t", "\t").replace("\\n", "\n")
}

/// Render `rows` with a docker `--format` string, as docker's list commands do.
///
/// - `json` means `{{json .}}`;
/// - `table TEMPLATE` prints a header row (the template executed over
///   `headers`, field name → header text, missing fields printing
///   `<no value>` as in docker) and aligns everything through
///   [`align_table`]; a bare `table` must be replaced by the command's
///   default format (e.g. [`DEFAULT_IMAGES_FORMAT`]) by the caller;
/// - anything else is executed once per row.
///
/// The format is trimmed of spaces and `\t`/`\n` are expanded; every row ends
/// with a newline.
pub fn table_format(
    format: &str,
    rows: &[Value],
    headers: &[(&str, &str)],
) -> Result<String, TemplateError> {
    let (is_table, body) = match format.strip_prefix("table") {
        Some(rest) => (true, rest),
        None if format == "json" => (false, "{{json .}}"),
        None => (false, format),
    };
    let body = expand_escapes(body.trim_matches(' '));
    let tmpl = Template::parse(&body)?;
    let mut buf = String::new();
    for row in rows {
        buf.push_str(&tmpl.render(row)?);
        buf.push('\n');
    }
    if !is_table {
        return Ok(buf);
    }
    let header_ctx: serde_json::Map<String, Value> = headers
        .iter()
        .map(|(k, v)| (k.to_string(), Value::String(v.to_string())))
        .collect();
    let mut table = tmpl.render_header(&Value::Object(header_ctx))?;
    table.push('\n');
    table.push_str(&buf);
    Ok(align_table(&table))
}

/// Aligns tab-terminated cells into columns as docker's table writer does (Go's
/// `tabwriter.NewWriter(out, 10, 1, 3, ' ', 0)`, widths measured as go-runewidth
/// does): a column is a run of consecutive lines that have a tab-terminated cell at
/// that index, as wide as its widest cell plus 3, at least 10; the text after a
/// line's last tab belongs to no column. Every line of `text` must end with `\n`
/// (the `tabwriter` crate leaves a last line's tab-terminated cells unpadded).
pub fn align_table(text: &str) -> String {
    use std::io::Write;
    const MIN_WIDTH: usize = 10;
    const PADDING: usize = 3;
    // The crate pads after applying the minimum, Go before: max(w, 7) + 3 is
    // Go's max(w + 3, 10).
    let mut tw = tabwriter::TabWriter::new(Vec::with_capacity(text.len() * 2))
        .minwidth(MIN_WIDTH - PADDING)
        .padding(PADDING);
    // Writing to memory cannot fail, and the cells are the caller's UTF-8.
    tw.write_all(text.as_bytes()).expect("writing to memory");
    let bytes = tw.into_inner().expect("writing to memory");
    String::from_utf8(bytes).expect("aligned UTF-8 stays UTF-8")
}

/// docker's `-f/--filter key=value` values: names are lower-cased and both
/// sides trimmed; empty arguments are ignored.
pub fn parse_filters(args: &[String]) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    for a in args {
        if a.is_empty() {
            continue;
        }
        let Some((k, v)) = a.split_once('=') else {
            return Err("bad format of filter (expected name=value)".to_string());
        };
        out.push((k.trim().to_lowercase(), v.trim().to_string()));
    }
    Ok(out)
}

/// Prints a line to stdout, treating a closed pipe as the end of output.
pub fn out(line: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut o = std::io::stdout().lock();
    match writeln!(o, "{line}") {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => std::process::exit(0),
        r => r,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn tables_align_as_docker_does() {
        let input = "REPOSITORY\tTAG\tIMAGE ID\tCREATED\tSIZE\n\
                     busybox\tlatest\tbeae173ccac6\t2 years ago\t1.24MB\n";
        let want = "REPOSITORY   TAG       IMAGE ID       CREATED       SIZE\n\
                    busybox      latest    beae173ccac6   2 years ago   1.24MB\n";
        assert_eq!(align_table(input), want);
        // The trailing cell is not padded; an empty cell still is.
        assert_eq!(align_table("a\tb\n"), "a         b\n");
        assert_eq!(align_table("a\t\n"), "a         \n");
        assert_eq!(align_table("abc\n"), "abc\n");
        assert_eq!(align_table(""), "");
        // Columns are blocks of consecutive lines: a line without a tab ends one.
        assert_eq!(
            align_table("x\ty\nheading\nlonger-cell-than-ten\tz\n"),
            "x         y\nheading\nlonger-cell-than-ten   z\n"
        );
        // Go's example: b and c are in distinct columns.
        assert_eq!(
            align_table("aaaa\tbbb\td\naa\tb\tdd\na\t\naa\tcccc\teee\n"),
            "aaaa      bbb       d\naa        b         dd\na         \naa        cccc      eee\n"
        );
        // Display widths: wide characters count two columns, combining marks none.
        assert_eq!(
            align_table("日本語の名前\tx\nabcdefghijkl\ty\ne\u{301}\tz\n"),
            "日本語の名前   x\nabcdefghijkl   y\ne\u{301}              z\n"
        );
    }

    #[test]
    fn sizes_like_go_units() {
        let cases: &[(u64, &str)] = &[
            (0, "0B"),
            (1, "1B"),
            (999, "999B"),
            (1000, "1kB"),
            (1024, "1.02kB"),
            (1125, "1.12kB"), // Go rounds the exact tie to even
            (4270, "4.27kB"),
            (4_261_550, "4.26MB"),
            (1_240_000, "1.24MB"),
            (95_200_000, "95.2MB"),
            (100_000_000, "100MB"),
            (1_050_000_000, "1.05GB"),
            (999_999, "1e+03kB"),
            (12_345_678_901_234, "12.3TB"),
            (u64::MAX, "18.4EB"),
        ];
        for (n, want) in cases {
            assert_eq!(human_size(*n), *want, "{n}");
        }
        assert_eq!(human_size_df(3_464_000_000), "3.464GB");
        assert_eq!(human_size_df(71_020), "71.02kB");
        assert_eq!(human_size_df(638_300_000), "638.3MB");
        assert_eq!(human_size_df(0), "0B");
        assert_eq!(human_size_with_precision(2.5e27, 3), "2.5e+03YB");
    }

    #[test]
    fn go_g_formatting() {
        assert_eq!(go_format_g(1.5, None), "1.5");
        assert_eq!(go_format_g(1e21, None), "1e+21");
        assert_eq!(go_format_g(123456789.0, None), "123456789");
        assert_eq!(go_format_g(0.0001, None), "0.0001");
        assert_eq!(go_format_g(0.00001, None), "1e-05");
        assert_eq!(go_format_g(-2.25, Some(2)), "-2.2");
        assert_eq!(go_format_g(0.5, Some(3)), "0.5");
    }

    #[test]
    fn ages_like_docker() {
        let now = 1_700_000_000;
        let cases: &[(i64, &str)] = &[
            (-5, "Less than a second ago"),
            (0, "Less than a second ago"),
            (1, "1 second ago"),
            (2, "2 seconds ago"),
            (59, "59 seconds ago"),
            (60, "About a minute ago"),
            (119, "About a minute ago"),
            (120, "2 minutes ago"),
            (3599, "59 minutes ago"),
            (3600, "About an hour ago"),
            (5399, "About an hour ago"),
            (5400, "2 hours ago"),
            (47 * 3600, "47 hours ago"),
            (48 * 3600 - 1800, "2 days ago"),
            (13 * 86400, "13 days ago"),
            (14 * 86400, "2 weeks ago"),
            (59 * 86400, "8 weeks ago"),
            (60 * 86400, "2 months ago"),
            (4 * 30 * 86400, "4 months ago"),
            (729 * 86400, "24 months ago"),
            (730 * 86400, "2 years ago"),
            (3 * 365 * 86400 + 10, "3 years ago"),
        ];
        for (age, want) in cases {
            assert_eq!(human_ago(now - age, now), *want, "age {age}");
        }
    }

    #[test]
    fn timestamps() {
        assert_eq!(parse_rfc3339("2024-01-02T03:04:05Z"), Some(1_704_164_645));
        assert_eq!(
            parse_rfc3339("2024-01-02T03:04:05.123456789Z"),
            Some(1_704_164_645)
        );
        assert_eq!(
            parse_rfc3339("2024-01-02T04:04:05+01:00"),
            Some(1_704_164_645)
        );
        assert_eq!(
            parse_rfc3339_nanos("2024-01-02T03:04:05.5Z"),
            Some((1_704_164_645, 500_000_000))
        );
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_rfc3339("2024-01-02 03:04:05"), None);
        assert_eq!(parse_rfc3339("yesterday"), None);
        assert_eq!(
            rfc3339(1_704_164_645, 123_456_789),
            "2024-01-02T03:04:05.123456789Z"
        );
        assert_eq!(
            rfc3339(1_704_164_645, 100_000_000),
            "2024-01-02T03:04:05.1Z"
        );
        assert_eq!(rfc3339(1_704_164_645, 0), "2024-01-02T03:04:05Z");
        assert_eq!(rfc3339(0, 0), "1970-01-01T00:00:00Z");
        assert_eq!(created_at(1_704_164_645), "2024-01-02 03:04:05 +0000 UTC");
    }

    fn image_rows() -> Vec<Value> {
        vec![
            json!({"Repository": "busybox", "Tag": "latest", "ID": "beae173ccac6",
                   "CreatedSince": "2 years ago", "Size": "1.24MB", "Digest": "<none>"}),
            json!({"Repository": "localhost:5000/my/app", "Tag": "v1.0.0", "ID": "0123456789ab",
                   "CreatedSince": "", "Size": "95.2MB", "Digest": "<none>"}),
        ]
    }

    #[test]
    fn default_images_table() {
        let out = table_format(DEFAULT_IMAGES_FORMAT, &image_rows(), IMAGES_HEADERS).unwrap();
        assert_eq!(
            out,
            "REPOSITORY              TAG       IMAGE ID       CREATED       SIZE\n\
             busybox                 latest    beae173ccac6   2 years ago   1.24MB\n\
             localhost:5000/my/app   v1.0.0    0123456789ab   N/A           95.2MB\n"
        );
        // no rows: just the header
        let out = table_format(DEFAULT_IMAGES_FORMAT, &[], IMAGES_HEADERS).unwrap();
        assert_eq!(out, "REPOSITORY   TAG       IMAGE ID   CREATED   SIZE\n");
    }

    #[test]
    fn custom_formats() {
        let rows = image_rows();
        assert_eq!(
            table_format("table {{.Repository}}\\t{{.Tag}}", &rows, IMAGES_HEADERS).unwrap(),
            "REPOSITORY              TAG\nbusybox                 latest\nlocalhost:5000/my/app   v1.0.0\n"
        );
        assert_eq!(
            table_format("{{.Repository}}:{{.Tag}}", &rows, IMAGES_HEADERS).unwrap(),
            "busybox:latest\nlocalhost:5000/my/app:v1.0.0\n"
        );
        assert_eq!(
            table_format("{{.ID}}\\t{{.Size}}", &rows, IMAGES_HEADERS).unwrap(),
            "beae173ccac6\t1.24MB\n0123456789ab\t95.2MB\n"
        );
        assert_eq!(
            table_format("table {{.ID}}\\t{{.Unknown}}", &[], IMAGES_HEADERS).unwrap(),
            "IMAGE ID   <no value>\n"
        );
        let json_out = table_format("json", &rows[..1], IMAGES_HEADERS).unwrap();
        assert_eq!(
            json_out,
            "{\"CreatedSince\":\"2 years ago\",\"Digest\":\"<none>\",\"ID\":\"beae173ccac6\",\"Repository\":\"busybox\",\"Size\":\"1.24MB\",\"Tag\":\"latest\"}\n"
        );
        let err = table_format("{{.Nope}}", &rows, IMAGES_HEADERS).unwrap_err();
        assert_eq!(
            err.to_string(),
            "template parsing error: template: :1:2: executing \"\" at <.Nope>: can't evaluate field Nope"
        );
    }

    #[test]
    fn history_and_df_tables() {
        let rows = vec![
            json!({"ID": "beae173ccac6", "CreatedSince": "2 years ago",
                   "CreatedBy": "/bin/sh -c #(nop)  CMD [\"sh\"]", "Size": "0B", "Comment": ""}),
            json!({"ID": "<missing>", "CreatedSince": "2 years ago",
                   "CreatedBy": "/bin/sh -c #(nop) ADD file:6cb7 in / ", "Size": "1.24MB", "Comment": ""}),
        ];
        assert_eq!(
            table_format(DEFAULT_HISTORY_FORMAT, &rows, HISTORY_HEADERS).unwrap(),
            "IMAGE          CREATED       CREATED BY                              SIZE      COMMENT\n\
             beae173ccac6   2 years ago   /bin/sh -c #(nop)  CMD [\"sh\"]           0B        \n\
             <missing>      2 years ago   /bin/sh -c #(nop) ADD file:6cb7 in /    1.24MB    \n"
        );
        let df = vec![
            json!({"Type": "Images", "TotalCount": 6, "Active": 2, "Size": "3.464GB", "Reclaimable": "1.579GB (45%)"}),
            json!({"Type": "Build Cache", "TotalCount": 0, "Active": 0, "Size": "0B", "Reclaimable": "0B"}),
        ];
        assert_eq!(
            table_format(DEFAULT_SYSTEM_DF_FORMAT, &df, SYSTEM_DF_HEADERS).unwrap(),
            "TYPE          TOTAL     ACTIVE    SIZE      RECLAIMABLE\n\
             Images        6         2         3.464GB   1.579GB (45%)\n\
             Build Cache   0         0         0B        0B\n"
        );
    }

    #[test]
    fn filters() {
        let args: Vec<String> = ["dangling=true", " Label = a=b ", "", "reference=busy*"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(
            parse_filters(&args).unwrap(),
            vec![
                ("dangling".to_string(), "true".to_string()),
                ("label".to_string(), "a=b".to_string()),
                ("reference".to_string(), "busy*".to_string()),
            ]
        );
        assert_eq!(
            parse_filters(&["dangling".to_string()]).unwrap_err(),
            "bad format of filter (expected name=value)"
        );
        assert_eq!(parse_filters(&[]).unwrap(), vec![]);
    }

    #[test]
    fn escapes() {
        assert_eq!(expand_escapes("a\\tb\\nc"), "a\tb\nc");
    }
}
