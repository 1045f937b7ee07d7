//! Heredocs: `RUN <<EOF`, `COPY <<A <<B /dir/`, `<<-EOF` (leading tabs stripped), quoted
//! delimiters (`<<'EOF'`, `<<"EOF"`) that turn expansion of the body off.

use super::error::ExpandError;
use super::expand::{Lexer, NoVars};

/// One heredoc of an instruction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heredoc {
    /// The delimiter word, quotes removed (for COPY and ADD also the file's name).
    pub name: String,
    /// The file descriptor before `<<` (`3<<EOF`); 0 when none is given.
    pub fd: u32,
    /// Whether variables in the body are expanded (the delimiter was not quoted).
    pub expand: bool,
    /// `<<-`: leading tabs are stripped from the body's lines.
    pub chomp: bool,
    /// The body: every line up to the delimiter, each with its newline.
    pub content: String,
}

impl Heredoc {
    /// The body as it is used: with leading tabs stripped from each line for `<<-`.
    pub fn body(&self) -> String {
        if self.chomp {
            chomp(&self.content)
        } else {
            self.content.clone()
        }
    }
}

/// `content` with the tabs at the start of every line removed.
pub fn chomp(content: &str) -> String {
    content
        .split_inclusive('\n')
        .map(|l| l.trim_start_matches('\t'))
        .collect()
}

/// Go's `\s`.
fn is_re_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\x0c' | '\r')
}

/// The heredoc `word` opens (`<<EOF`, `2<<-'X'`), or None if it opens none.
pub fn parse_word(word: &str) -> Result<Option<Heredoc>, ExpandError> {
    let digits = word.len() - word.trim_start_matches(|c: char| c.is_ascii_digit()).len();
    let Some(after) = word[digits..].strip_prefix("<<") else {
        return Ok(None);
    };
    let (chomp, after) = match after.strip_prefix('-') {
        Some(a) => (true, a),
        None => (false, after),
    };
    let rest = after.trim_start_matches(is_re_space);
    if rest.is_empty() || rest.contains('<') {
        return Ok(None);
    }
    let fd = word[..digits].parse::<u32>().unwrap_or(0);
    let mut lexer = Lexer::new('\\');
    lexer.skip_unset = true;
    let words = lexer.process_words(rest, &NoVars)?;
    if words.len() != 1 {
        return Ok(None);
    }
    lexer.raw_quotes = true;
    let raw = lexer.process_words(rest, &NoVars)?;
    let quotes = |s: &str| s.chars().filter(|&c| c == '\'' || c == '"').count();
    let expand = raw.len() == 1 && quotes(&words[0]) == quotes(&raw[0]);
    Ok(Some(Heredoc {
        name: words[0].clone(),
        fd,
        expand,
        chomp,
        content: String::new(),
    }))
}

/// The heredocs a logical line opens, in order (bodies still empty).
pub fn from_line(line: &str) -> Result<Vec<Heredoc>, ExpandError> {
    let lexer = Lexer {
        raw_quotes: true,
        raw_escapes: true,
        skip_unset: true,
        ..Lexer::new('\\')
    };
    let words = lexer.process_words(line, &NoVars).unwrap_or_default();
    let mut docs = Vec::new();
    for w in words {
        if let Some(h) = parse_word(&w)? {
            docs.push(h);
        }
    }
    Ok(docs)
}
