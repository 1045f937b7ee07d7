//! Parse nodes into typed instructions, checking arguments and flags as BuildKit's
//! instruction parser does.

use super::ast::{Args, Node};
use super::duration::{parse_go_duration, to_duration};
use super::error::ErrorKind;
use super::flags::{parse_flags, FlagKind, FlagValues};
use super::heredoc::{self, Heredoc};
use super::instruction::{
    Add, Arg, CommandLine, Copy, From, Healthcheck, Instruction, KeyValue, Network, Run, Security,
};
use super::mount::{self, Expansion};
use super::stage::StageRef;
use FlagKind::{Bool, List, Text};

/// The typed instruction `node` stands for.
pub(crate) fn parse_node(node: &Node) -> Result<Instruction, ErrorKind> {
    let args = node.words();
    let keyword = node.keyword();
    let none: &[(&str, FlagKind)] = &[];
    let simple = |what: &'static str| -> Result<String, ErrorKind> {
        parse_flags(&node.flags, none)?;
        match args.as_slice() {
            [one] => Ok(one.clone()),
            _ => Err(ErrorKind::ExactlyOneArgument(what)),
        }
    };
    Ok(match keyword.as_str() {
        "from" => Instruction::From(parse_from(node, &args)?),
        "run" => Instruction::Run(parse_run(node, &args)?),
        "cmd" => {
            parse_flags(&node.flags, none)?;
            Instruction::Cmd(command_line(node, &args))
        }
        "entrypoint" => {
            parse_flags(&node.flags, none)?;
            Instruction::Entrypoint(command_line(node, &args))
        }
        "env" => Instruction::Env(pairs(node, "ENV")?),
        "label" => Instruction::Label(pairs(node, "LABEL")?),
        "arg" => Instruction::Arg(parse_arg(node, &args)?),
        "maintainer" => Instruction::Maintainer(simple("MAINTAINER")?),
        "workdir" => Instruction::Workdir(simple("WORKDIR")?),
        "user" => Instruction::User(simple("USER")?),
        "stopsignal" => Instruction::Stopsignal(simple("STOPSIGNAL")?),
        "expose" => {
            let mut ports = at_least_one(node, &args, "EXPOSE")?;
            ports.sort();
            Instruction::Expose(ports)
        }
        "volume" => {
            let vols = at_least_one(node, &args, "VOLUME")?;
            let vols: Vec<String> = vols.iter().map(|v| v.trim().to_string()).collect();
            if vols.iter().any(String::is_empty) {
                return Err(ErrorKind::EmptyVolume);
            }
            Instruction::Volume(vols)
        }
        "copy" => Instruction::Copy(parse_copy(node, &args)?),
        "add" => Instruction::Add(parse_add(node, &args)?),
        "healthcheck" => Instruction::Healthcheck(parse_healthcheck(node, &args)?),
        "shell" => {
            parse_flags(&node.flags, none)?;
            if args.is_empty() {
                return Err(ErrorKind::AtLeastOneArgument("SHELL"));
            }
            if !node.json {
                return Err(ErrorKind::ShellNotJson);
            }
            Instruction::Shell(args)
        }
        "onbuild" => Instruction::Onbuild(parse_onbuild(node)?),
        _ => {
            return Err(ErrorKind::UnknownInstruction {
                name: node.name.clone(),
                suggestion: None,
            })
        }
    })
}

fn at_least_one(
    node: &Node,
    args: &[String],
    what: &'static str,
) -> Result<Vec<String>, ErrorKind> {
    if args.is_empty() {
        return Err(ErrorKind::AtLeastOneArgument(what));
    }
    parse_flags(&node.flags, &[])?;
    Ok(args.to_vec())
}

/// Exec form for a JSON array, else the arguments joined as shell text.
fn command_line(node: &Node, args: &[String]) -> CommandLine {
    if node.json {
        CommandLine::Exec(args.to_vec())
    } else {
        CommandLine::Shell(args.join(" "))
    }
}

fn pairs(node: &Node, what: &'static str) -> Result<Vec<KeyValue>, ErrorKind> {
    parse_flags(&node.flags, &[])?;
    let Args::Pairs(pairs) = &node.args else {
        return Err(ErrorKind::AtLeastOneArgument(what));
    };
    if pairs.is_empty() {
        return Err(ErrorKind::AtLeastOneArgument(what));
    }
    pairs
        .iter()
        .map(|p| {
            if p.key.is_empty() {
                return Err(ErrorKind::BlankName(what));
            }
            Ok(KeyValue {
                key: p.key.clone(),
                value: p.value.clone(),
            })
        })
        .collect()
}

fn parse_arg(node: &Node, args: &[String]) -> Result<Vec<Arg>, ErrorKind> {
    if args.is_empty() {
        return Err(ErrorKind::AtLeastOneArgument("ARG"));
    }
    parse_flags(&node.flags, &[])?;
    args.iter()
        .map(|a| match a.split_once('=') {
            Some(("", _)) => Err(ErrorKind::BlankName("ARG")),
            Some((k, v)) => Ok(Arg {
                name: k.to_string(),
                default: Some(v.to_string()),
            }),
            None => Ok(Arg {
                name: a.clone(),
                default: None,
            }),
        })
        .collect()
}

/// Whether `name` is a valid stage name (`^[a-z][a-z0-9-_.]*$`).
fn valid_stage_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "-_.".contains(c))
}

fn parse_from(node: &Node, args: &[String]) -> Result<From, ErrorKind> {
    let name = match args {
        [_] => None,
        [_, as_, name] if as_.eq_ignore_ascii_case("as") => {
            let lower = name.to_lowercase();
            if !valid_stage_name(&lower) {
                return Err(ErrorKind::InvalidStageName(name.clone()));
            }
            Some(lower)
        }
        _ => return Err(ErrorKind::FromArguments),
    };
    let flags = parse_flags(&node.flags, &[("platform", Text)])?;
    Ok(From {
        image: args[0].clone(),
        name,
        platform: flags.text("platform"),
    })
}

fn parse_run(node: &Node, args: &[String]) -> Result<Run, ErrorKind> {
    let allowed = [
        ("mount", List),
        ("network", Text),
        ("security", Text),
        ("device", List),
    ];
    let flags = parse_flags(&node.flags, &allowed)?;
    let mounts = flags
        .list("mount")
        .iter()
        .map(|spec| mount::parse(spec, Expansion::Deferred))
        .collect::<Result<Vec<_>, _>>()?;
    let network = match flags.text("network").as_deref() {
        None | Some("default") => Network::Default,
        Some("none") => Network::None,
        Some("host") => Network::Host,
        Some(other) => return Err(ErrorKind::Network(other.to_string())),
    };
    let security = match flags.text("security").as_deref() {
        None | Some("sandbox") => Security::Sandbox,
        Some("insecure") => Security::Insecure,
        Some(other) => return Err(ErrorKind::Security(other.to_string())),
    };
    if args.is_empty() {
        return Err(ErrorKind::AtLeastOneArgument("RUN"));
    }
    Ok(Run {
        cmd: command_line(node, args),
        heredocs: node.heredocs.clone(),
        mounts,
        network,
        security,
        devices: flags.list("device"),
    })
}

/// COPY and ADD arguments: source paths, heredoc sources, the destination.
struct Sources {
    paths: Vec<String>,
    heredocs: Vec<Heredoc>,
    dest: String,
}

fn sources(node: &Node, args: &[String], what: &'static str) -> Result<Sources, ErrorKind> {
    let (dest, srcs) = args.split_last().ok_or(ErrorKind::NoDestination(what))?;
    if heredoc::parse_word(dest).ok().flatten().is_some() {
        return Err(ErrorKind::HeredocDestination(what));
    }
    let mut out = Sources {
        paths: Vec::new(),
        heredocs: Vec::new(),
        dest: dest.clone(),
    };
    for src in srcs {
        match heredoc::parse_word(src).ok().flatten() {
            Some(mut doc) => {
                if let Some(body) = node.heredocs.iter().find(|h| h.name == doc.name) {
                    doc.content = body.content.clone();
                }
                out.heredocs.push(doc);
            }
            None => out.paths.push(src.clone()),
        }
    }
    Ok(out)
}

fn copy_flags(
    node: &Node,
    args: &[String],
    what: &'static str,
    allowed: &[(&'static str, FlagKind)],
) -> Result<(FlagValues, Sources), ErrorKind> {
    if args.len() < 2 {
        return Err(ErrorKind::NoDestination(what));
    }
    let flags = parse_flags(&node.flags, allowed)?;
    Ok((flags, sources(node, args, what)?))
}

fn parse_copy(node: &Node, args: &[String]) -> Result<Copy, ErrorKind> {
    let allowed = [
        ("chown", Text),
        ("from", Text),
        ("chmod", Text),
        ("link", Bool),
        ("exclude", List),
        ("parents", Bool),
    ];
    let (flags, src) = copy_flags(node, args, "COPY", &allowed)?;
    Ok(Copy {
        sources: src.paths,
        heredocs: src.heredocs,
        dest: src.dest,
        from: flags.text("from").map(StageRef::Image),
        chown: flags.text("chown"),
        chmod: flags.text("chmod"),
        link: flags.bool("link").unwrap_or(false),
        parents: flags.bool("parents").unwrap_or(false),
        excludes: flags.list("exclude"),
    })
}

fn parse_add(node: &Node, args: &[String]) -> Result<Add, ErrorKind> {
    let allowed = [
        ("chown", Text),
        ("chmod", Text),
        ("link", Bool),
        ("keep-git-dir", Bool),
        ("checksum", Text),
        ("unpack", Bool),
        ("exclude", List),
    ];
    let (flags, src) = copy_flags(node, args, "ADD", &allowed)?;
    Ok(Add {
        sources: src.paths,
        heredocs: src.heredocs,
        dest: src.dest,
        chown: flags.text("chown"),
        chmod: flags.text("chmod"),
        link: flags.bool("link").unwrap_or(false),
        checksum: flags.text("checksum"),
        keep_git_dir: flags.bool("keep-git-dir"),
        unpack: flags.bool("unpack"),
        excludes: flags.list("exclude"),
    })
}

fn interval(flags: &FlagValues, name: &str) -> Result<std::time::Duration, ErrorKind> {
    let Some(v) = flags.text(name).filter(|v| !v.is_empty()) else {
        return Ok(std::time::Duration::ZERO);
    };
    let nanos = parse_go_duration(&v).ok_or_else(|| ErrorKind::Duration {
        flag: name.to_string(),
        value: v.clone(),
    })?;
    if nanos == 0 {
        return Ok(std::time::Duration::ZERO);
    }
    if nanos < 1_000_000 {
        return Err(ErrorKind::DurationTooShort(name.to_string()));
    }
    Ok(to_duration(nanos).unwrap_or_default())
}

fn parse_healthcheck(node: &Node, args: &[String]) -> Result<Healthcheck, ErrorKind> {
    let (typ, rest) = args
        .split_first()
        .ok_or(ErrorKind::AtLeastOneArgument("HEALTHCHECK"))?;
    let allowed = [
        ("interval", Text),
        ("timeout", Text),
        ("start-period", Text),
        ("start-interval", Text),
        ("retries", Text),
    ];
    let flags = parse_flags(&node.flags, &allowed)?;
    let typ = typ.to_uppercase();
    let test = match typ.as_str() {
        "NONE" if rest.is_empty() => vec![typ],
        "NONE" => return Err(ErrorKind::HealthcheckNoneArguments),
        "CMD" if rest.is_empty() => return Err(ErrorKind::HealthcheckMissingCommand),
        "CMD" if node.json => std::iter::once(typ).chain(rest.iter().cloned()).collect(),
        "CMD" => vec!["CMD-SHELL".to_string(), rest.join(" ")],
        _ => return Err(ErrorKind::HealthcheckType(typ)),
    };
    let retries = match flags.text("retries").filter(|v| !v.is_empty()) {
        None => 0,
        Some(v) => match v.parse::<i32>() {
            Ok(n) if n >= 0 => n as u32,
            _ => return Err(ErrorKind::Retries(v)),
        },
    };
    Ok(Healthcheck {
        test,
        interval: interval(&flags, "interval")?,
        timeout: interval(&flags, "timeout")?,
        start_period: interval(&flags, "start-period")?,
        start_interval: interval(&flags, "start-interval")?,
        retries,
    })
}

/// ONBUILD: the trigger's text (with any heredoc bodies), after checking the trigger.
fn parse_onbuild(node: &Node) -> Result<String, ErrorKind> {
    let Args::Trigger(child) = &node.args else {
        return Err(ErrorKind::AtLeastOneArgument("ONBUILD"));
    };
    parse_flags(&node.flags, &[])?;
    let trigger = child.name.to_uppercase();
    match trigger.as_str() {
        "ONBUILD" => return Err(ErrorKind::OnbuildChain),
        "MAINTAINER" | "FROM" => return Err(ErrorKind::OnbuildTrigger(trigger)),
        _ => {}
    }
    let original = node.original.trim_start();
    let mut expr = original[node.name.len()..].trim_start().to_string();
    for doc in &node.heredocs {
        expr.push('\n');
        expr.push_str(&doc.content);
        expr.push_str(&doc.name);
    }
    Ok(expr)
}
