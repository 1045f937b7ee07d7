//! The shell patterns of `${VAR#pat}`, `${VAR%pat}` and `${VAR/pat/rep}`: `*` is any run of
//! characters, `?` one character, `\*`, `\?` and `\\` literal; neither wildcard crosses a
//! newline (as in docker, whose patterns become regular expressions).

use super::error::ExpandErrorKind;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token {
    Star,
    One,
    Literal(char),
}

fn compile(pattern: &str) -> Result<Vec<Token>, ExpandErrorKind> {
    let mut out = Vec::new();
    let mut chars = pattern.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '*' => out.push(Token::Star),
            '?' => out.push(Token::One),
            '\\' => {
                if matches!(chars.peek(), Some('}' | '/')) {
                    continue;
                }
                match chars.next() {
                    Some(e @ ('*' | '?' | '\\')) => out.push(Token::Literal(e)),
                    other => {
                        return Err(ExpandErrorKind::Pattern {
                            pattern: pattern.to_string(),
                            escaped: other.map(String::from).unwrap_or_default(),
                        })
                    }
                }
            }
            c => out.push(Token::Literal(c)),
        }
    }
    Ok(out)
}

/// Where a match of `tokens` starting at `pos` ends, trying the wildcard lengths in the
/// order a backtracking regular expression does (longest first when `greedy`).
fn match_at(tokens: &[Token], text: &[char], pos: usize, greedy: bool) -> Option<usize> {
    let Some((first, rest)) = tokens.split_first() else {
        return Some(pos);
    };
    match first {
        Token::Literal(c) => (text.get(pos) == Some(c))
            .then(|| match_at(rest, text, pos + 1, greedy))
            .flatten(),
        Token::One => text
            .get(pos)
            .filter(|&&c| c != '\n')
            .and_then(|_| match_at(rest, text, pos + 1, greedy)),
        Token::Star => {
            let max = text[pos..].iter().take_while(|&&c| c != '\n').count();
            let try_len = |n: usize| match_at(rest, text, pos + n, greedy);
            if greedy {
                (0..=max).rev().find_map(try_len)
            } else {
                (0..=max).find_map(try_len)
            }
        }
    }
}

/// `value` without its shortest (or, `greedy`, longest) prefix matching `pattern`.
pub fn trim_prefix(pattern: &str, value: &str, greedy: bool) -> Result<String, ExpandErrorKind> {
    let tokens = compile(pattern)?;
    let text: Vec<char> = value.chars().collect();
    Ok(match match_at(&tokens, &text, 0, greedy) {
        Some(end) => text[end..].iter().collect(),
        None => value.to_string(),
    })
}

/// `value` without its shortest (or, `greedy`, longest) suffix matching `pattern`.
pub fn trim_suffix(pattern: &str, value: &str, greedy: bool) -> Result<String, ExpandErrorKind> {
    let mut tokens = compile(pattern)?;
    tokens.reverse();
    let text: Vec<char> = value.chars().rev().collect();
    Ok(match match_at(&tokens, &text, 0, greedy) {
        Some(end) => text[end..].iter().rev().collect(),
        None => value.to_string(),
    })
}

/// `value` with the first (or, `all`, every) longest match of `pattern` replaced.
pub fn replace(
    pattern: &str,
    value: &str,
    replacement: &str,
    all: bool,
) -> Result<String, ExpandErrorKind> {
    let tokens = compile(pattern)?;
    let text: Vec<char> = value.chars().collect();
    let mut out = String::new();
    let mut pos = 0;
    let mut last_end = None;
    while pos <= text.len() {
        let found = (pos..=text.len()).find_map(|s| {
            let e = match_at(&tokens, &text, s, true)?;
            (!(e == s && last_end == Some(s))).then_some((s, e))
        });
        let Some((start, end)) = found else { break };
        out.extend(&text[pos..start]);
        out.push_str(replacement);
        last_end = Some(end);
        if end > start {
            pos = end;
        } else {
            if let Some(c) = text.get(start) {
                out.push(*c);
            }
            pos = start + 1;
        }
        if !all {
            break;
        }
    }
    if pos < text.len() {
        out.extend(&text[pos..]);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_and_suffixes() {
        assert_eq!(trim_prefix("a*", "abcabc", false).unwrap(), "bcabc");
        assert_eq!(trim_prefix("a*", "abcabc", true).unwrap(), "");
        assert_eq!(trim_prefix("*b", "abcabc", false).unwrap(), "cabc");
        assert_eq!(trim_prefix("*b", "abcabc", true).unwrap(), "c");
        assert_eq!(trim_suffix("b*", "abcabc", false).unwrap(), "abca");
        assert_eq!(trim_suffix("b*", "abcabc", true).unwrap(), "a");
        assert_eq!(trim_suffix(".tar.gz", "x.tar.gz", false).unwrap(), "x");
        assert_eq!(trim_prefix("\\*", "*x", false).unwrap(), "x");
        assert!(trim_prefix("\\x", "x", false).is_err());
    }

    #[test]
    fn replacements() {
        assert_eq!(replace("b", "abcabc", "X", false).unwrap(), "aXcabc");
        assert_eq!(replace("b", "abcabc", "X", true).unwrap(), "aXcaXc");
        assert_eq!(replace("b*", "abcabc", "X", false).unwrap(), "aX");
        assert_eq!(replace("z", "abc", "X", true).unwrap(), "abc");
    }
}
