//! `strata image prune [-a] [-f] [--filter until=…,label=…]`.

use crate::clock::now_unix;
use crate::context::Ctx;
use crate::output::{human_size, parse_filters, parse_rfc3339};
use crate::reference::familiar;
use anyhow::{anyhow, bail, Result};
use std::io::{BufRead, Write};
use store_layout::{Digest, StoreError};

/// Arguments of `image prune`.
#[derive(clap::Args, Debug)]
pub struct PruneArgs {
    /// Remove all unused images, not just dangling ones.
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Do not prompt for confirmation.
    #[arg(short = 'f', long)]
    pub force: bool,
    /// Provide filter values (e.g. 'until=<timestamp>', 'label=<key>=<value>').
    #[arg(long = "filter")]
    pub filter: Vec<String>,
}

/// `until=`: a Unix timestamp, an RFC 3339 time, or a Go duration before now (`24h`, `90m`).
pub(crate) fn parse_until(v: &str, now: i64) -> Result<i64> {
    if let Ok(t) = v.parse::<i64>() {
        return Ok(t);
    }
    if let Some(t) = parse_rfc3339(v) {
        return Ok(t);
    }
    let mut total = 0f64;
    let mut num = String::new();
    let mut rest = v;
    while !rest.is_empty() {
        let c = rest.chars().next().unwrap_or(' ');
        if c.is_ascii_digit() || c == '.' {
            num.push(c);
            rest = &rest[1..];
            continue;
        }
        let (unit, secs) = [("ms", 0.001), ("h", 3600.0), ("m", 60.0), ("s", 1.0)]
            .into_iter()
            .find(|(u, _)| rest.starts_with(u))
            .ok_or_else(|| anyhow!("invalid filter 'until={v}'"))?;
        let n: f64 = num
            .parse()
            .map_err(|_| anyhow!("invalid filter 'until={v}'"))?;
        total += n * secs;
        num.clear();
        rest = &rest[unit.len()..];
    }
    if !num.is_empty() {
        bail!("invalid filter 'until={v}'");
    }
    Ok(now - total as i64)
}

/// Prints `what` and docker's question, and reads the answer: whether to go on.
pub(crate) fn confirm(what: &str) -> Result<bool> {
    print!("{what}\nAre you sure you want to continue? [y/N] ");
    std::io::stdout().flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(matches!(
        answer.trim().to_ascii_lowercase().as_str(),
        "y" | "yes"
    ))
}

/// Runs `image prune`.
pub fn run(ctx: &Ctx, args: &PruneArgs) -> Result<()> {
    let used = super::rmi::images_in_use(ctx)?;
    let now = now_unix();
    let mut until = None;
    let mut labels: Vec<(bool, String, Option<String>)> = Vec::new();
    for (k, v) in parse_filters(&args.filter).map_err(|e| anyhow!("{e}"))? {
        match k.as_str() {
            "until" => until = Some(parse_until(&v, now)?),
            "label" | "label!" => {
                let (key, val) = match v.split_once('=') {
                    Some((a, b)) => (a.to_string(), Some(b.to_string())),
                    None => (v.clone(), None),
                };
                labels.push((k == "label", key, val));
            }
            other => bail!("invalid filter '{other}'"),
        }
    }
    if !args.force {
        let what = if args.all {
            "WARNING! This will remove all images without at least one container associated to them."
        } else {
            "WARNING! This will remove all dangling images."
        };
        if !confirm(what)? {
            return Ok(());
        }
    }
    let mut untagged = Vec::new();
    let mut deleted: Vec<Digest> = Vec::new();
    let ((), removed) = ctx.store.update(|db| {
        let candidates: Vec<Digest> = db
            .images()
            .iter()
            .filter(|(id, img)| {
                let tagged = !db.tags_of(id).is_empty();
                let created = img
                    .created
                    .as_deref()
                    .and_then(parse_rfc3339)
                    .unwrap_or(img.added);
                (args.all || !tagged)
                    && until.is_none_or(|u| created < u)
                    && labels.iter().all(|(want, k, v)| {
                        let has = match (img.labels.get(k), v) {
                            (Some(_), None) => true,
                            (Some(a), Some(b)) => a == b,
                            (None, _) => false,
                        };
                        has == *want
                    })
            })
            .map(|(id, _)| id.clone())
            .collect();
        for id in candidates {
            if db.images().values().any(|i| i.parent.as_ref() == Some(&id))
                || used.contains_key(&id)
            {
                continue;
            }
            for t in db
                .tags_of(&id)
                .iter()
                .map(|s| s.to_string())
                .collect::<Vec<_>>()
            {
                db.untag(&t);
                untagged.push(familiar(&t));
            }
            db.remove_image(&id);
            deleted.push(id);
        }
        Ok::<_, StoreError>(())
    })?;
    if !deleted.is_empty() {
        crate::output::out("Deleted Images:")?;
        for u in &untagged {
            crate::output::out(&format!("untagged: {u}"))?;
        }
        for d in deleted.iter().chain(removed.layers.iter()) {
            crate::output::out(&format!("deleted: {d}"))?;
        }
        crate::output::out("")?;
    }
    Ok(crate::output::out(&format!(
        "Total reclaimed space: {}",
        human_size(removed.reclaimed)
    ))?)
}

#[cfg(test)]
mod tests {
    use super::parse_until;

    #[test]
    fn until_accepts_durations_and_timestamps() {
        assert_eq!(parse_until("24h", 100_000).unwrap(), 100_000 - 86_400);
        assert_eq!(parse_until("1h30m", 10_000).unwrap(), 10_000 - 5_400);
        assert_eq!(parse_until("1700000000", 0).unwrap(), 1_700_000_000);
        assert!(parse_until("soon", 0).is_err());
    }
}
