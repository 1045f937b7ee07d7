//! What strata's command line does on top of clap's definitions, as docker's does:
//! every boolean flag also takes `=true`/`=false`, `-v` is `--version`, and an unknown
//! command is named with close matches only.

use clap::builder::ValueParser;
use clap::{Arg, ArgAction, Command};

/// Makes every boolean flag of `cmd` and of its subcommands (at every depth) take an
/// optional attached value, as docker's flags do: `--rm`, `--rm=true`, `--rm=false`,
/// `-a=false`, and still `-aq`. A flag is a field `bool` with clap's default action
/// (`SetTrue`), or, for one that is true by default, `default_value_t = true, action =
/// ArgAction::Set`; commands declare them so and get the rest from here.
pub fn bool_flags_take_values(cmd: Command) -> Command {
    let flags: Vec<(String, &'static str)> = cmd
        .get_arguments()
        .filter_map(|a| {
            let default = match a.get_action() {
                ArgAction::SetTrue => "false",
                ArgAction::Set if is_true_by_default(a) => "true",
                _ => return None,
            };
            Some((a.get_id().to_string(), default))
        })
        .collect();
    let subcommands: Vec<String> = cmd
        .get_subcommands()
        .map(|c| c.get_name().to_string())
        .collect();
    let cmd = flags.iter().fold(cmd, |cmd, (id, default)| {
        cmd.mut_arg(id, |a| optional_bool(a, default))
    });
    subcommands.iter().fold(cmd, |cmd, name| {
        cmd.mut_subcommand(name, bool_flags_take_values)
    })
}

/// Whether `arg` is a boolean flag that is true unless turned off.
fn is_true_by_default(arg: &Arg) -> bool {
    arg.get_default_values() == [std::ffi::OsStr::new("true")]
}

/// A boolean flag that takes an optional `=BOOL`, `default` when not given.
fn optional_bool(arg: Arg, default: &'static str) -> Arg {
    arg.action(ArgAction::Set)
        .num_args(0..=1)
        .require_equals(true)
        .default_missing_value("true")
        .default_value(default)
        .value_name("BOOL")
        .value_parser(ValueParser::new(parse_bool))
        .hide_default_value(true)
        .hide_possible_values(true)
}

/// Go's `strconv.ParseBool`, which docker's flags use.
pub fn parse_bool(s: &str) -> Result<bool, String> {
    match s {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok(false),
        _ => Err(format!("strconv.ParseBool: parsing {s:?}: invalid syntax")),
    }
}

/// Replaces clap's `-V, --version` with docker's `-v, --version`.
pub fn docker_version_flag(cmd: Command) -> Command {
    cmd.disable_version_flag(true).arg(
        Arg::new("version")
            .short('v')
            .long("version")
            .action(ArgAction::Version)
            .help("Print version information and quit"),
    )
}

/// The names `typed` may have been meant as: names at most two edits away (a swap of
/// two neighbouring letters counting as one), and never more than a third of the typed
/// word changed.
pub fn close_matches<'a>(typed: &str, names: impl IntoIterator<Item = &'a str>) -> Vec<&'a str> {
    let limit = (typed.chars().count() / 3).clamp(1, 2);
    names
        .into_iter()
        .filter(|n| edit_distance(typed, n) <= limit)
        .collect()
}

/// The optimal string alignment distance between `a` and `b` (Levenshtein plus
/// transpositions of neighbouring characters).
fn edit_distance(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = v;
        }
    }
    d[a.len()][b.len()]
}

/// docker's lines for an unknown command: `strata: 'stpo' is not a strata command.`,
/// close matches if any, then where to look. `path` is the command the unknown word
/// followed (empty at the top level); `names` are the commands there.
pub fn unknown_command<'a>(
    path: &str,
    typed: &str,
    names: impl IntoIterator<Item = &'a str>,
) -> String {
    let shown = if path.is_empty() {
        typed.to_string()
    } else {
        format!("{path} {typed}")
    };
    let mut text = format!("strata: '{shown}' is not a strata command.\n");
    let matches = close_matches(typed, names);
    if !matches.is_empty() {
        text.push_str("\nDid you mean this?\n");
        for m in matches {
            text.push_str(&format!("\t{m}\n"));
        }
        text.push('\n');
    }
    let help = if path.is_empty() {
        "strata --help".to_string()
    } else {
        format!("strata {path} --help")
    };
    text.push_str(&format!("See '{help}'"));
    text
}

#[cfg(test)]
mod tests {
    use super::{close_matches, parse_bool};

    #[test]
    fn only_close_names_are_suggested() {
        let names = ["history", "start", "stop", "images", "rm", "run"];
        assert!(close_matches("stop", ["history", "start"]).is_empty());
        assert_eq!(close_matches("stpo", names), vec!["stop"]);
        assert_eq!(close_matches("imagse", names), vec!["images"]);
        assert!(close_matches("xyz", names).is_empty());
    }

    #[test]
    fn no_command_keeps_a_flag_that_refuses_a_value() {
        fn check(cmd: &clap::Command) {
            for a in cmd.get_arguments() {
                let refuses = match a.get_action() {
                    clap::ArgAction::SetTrue => true,
                    clap::ArgAction::Set if super::is_true_by_default(a) => {
                        !a.is_require_equals_set()
                    }
                    _ => false,
                };
                assert!(!refuses, "{} --{:?}", cmd.get_name(), a.get_long());
            }
            cmd.get_subcommands().for_each(check);
        }
        check(&crate::cli::command());
    }

    #[test]
    fn bools_parse_as_go_does() {
        assert_eq!(parse_bool("false"), Ok(false));
        assert_eq!(parse_bool("T"), Ok(true));
        assert!(parse_bool("yes").is_err());
    }
}
