//! `.dockerignore`: one pattern a line (`#` comments, `!` exceptions, `**`), paths
//! relative to the context root; the last pattern that matches a path (or one of its
//! parent directories) decides whether it is left out.

use super::pattern::matches;

/// One pattern line.
#[derive(Debug, Clone)]
struct Rule {
    pattern: String,
    exception: bool,
}

/// The patterns of a context's `.dockerignore`.
#[derive(Debug, Clone, Default)]
pub struct Ignore {
    rules: Vec<Rule>,
}

/// `path` cleaned as Go's `filepath.Clean` does, without a leading `/`.
pub fn clean(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    parts.join("/")
}

impl Ignore {
    /// Reads the text of a `.dockerignore` file.
    pub fn parse(text: &str) -> Ignore {
        let mut rules = Vec::new();
        for line in text.lines() {
            if line.starts_with('#') {
                continue;
            }
            let line = line.trim();
            if line.is_empty() {
                continue;
            }
            let (exception, pat) = match line.strip_prefix('!') {
                Some(p) => (true, p.trim()),
                None => (false, line),
            };
            let pattern = clean(pat);
            if pattern.is_empty() {
                continue;
            }
            rules.push(Rule { pattern, exception });
        }
        Ignore { rules }
    }

    /// Whether `path` (relative to the context root) is left out of the context.
    pub fn excluded(&self, path: &str) -> bool {
        let mut out = false;
        for r in &self.rules {
            if r.exception != out {
                continue;
            }
            let hit = matches(&r.pattern, path, true)
                || path
                    .match_indices('/')
                    .any(|(i, _)| matches(&r.pattern, &path[..i], true));
            if hit {
                out = !r.exception;
            }
        }
        out
    }

    /// Whether some exception might bring back a path inside an excluded directory, so
    /// the directory must still be walked.
    pub fn has_exceptions(&self) -> bool {
        self.rules.iter().any(|r| r.exception)
    }
}

#[cfg(test)]
mod tests {
    use super::Ignore;

    #[test]
    fn last_match_wins_and_directories_cover_their_content() {
        let i = Ignore::parse("# c\n*.log\n!keep.log\nbuild\n**/tmp\n/secret/\n");
        assert!(i.excluded("a.log"));
        assert!(!i.excluded("keep.log"));
        assert!(!i.excluded("d/a.log"));
        assert!(i.excluded("build/x/y"));
        assert!(i.excluded("a/b/tmp/f"));
        assert!(i.excluded("secret/k"));
        assert!(!i.excluded("src/main.rs"));
    }
}
