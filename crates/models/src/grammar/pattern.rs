//! Converts a small, anchored subset of JSON Schema regex patterns into a
//! GBNF expression over the characters of a JSON string.
//!
//! Supported: literal characters, escapes `\d \w \. \-` and the like, `.`,
//! character classes, groups with `|`, and the quantifiers `? * + {n} {n,}
//! {n,m}`. Anything else (lookarounds, backreferences, quotes or backslashes
//! that would need JSON escaping, unanchored patterns) returns `None` and the
//! caller falls back to any string.

/// The GBNF expression for `pattern`, if it is in the supported subset.
pub fn to_gbnf(pattern: &str) -> Option<String> {
    let inner = pattern.strip_prefix('^')?.strip_suffix('$')?;
    let chars: Vec<char> = inner.chars().collect();
    let mut parser = Parser { chars, at: 0 };
    let expr = parser.alternation()?;
    (parser.at == parser.chars.len()).then_some(expr)
}

struct Parser {
    chars: Vec<char>,
    at: usize,
}

impl Parser {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.at).copied()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.at += 1;
        Some(c)
    }

    fn alternation(&mut self) -> Option<String> {
        let mut alts = vec![self.sequence()?];
        while self.peek() == Some('|') {
            self.at += 1;
            alts.push(self.sequence()?);
        }
        Some(if alts.len() == 1 {
            alts.pop()?
        } else {
            format!("( {} )", alts.join(" | "))
        })
    }

    fn sequence(&mut self) -> Option<String> {
        let mut items = Vec::new();
        while let Some(c) = self.peek() {
            if c == '|' || c == ')' {
                break;
            }
            let atom = self.atom()?;
            let quantified = self.quantifier(atom)?;
            items.push(quantified);
        }
        Some(if items.is_empty() {
            "\"\"".to_string()
        } else {
            items.join(" ")
        })
    }

    fn atom(&mut self) -> Option<String> {
        match self.bump()? {
            '(' => {
                if self.peek() == Some('?') {
                    self.at += 1;
                    if self.bump()? != ':' {
                        return None;
                    }
                }
                let inner = self.alternation()?;
                (self.bump()? == ')').then(|| format!("( {inner} )"))
            }
            '[' => self.class(),
            '.' => Some("[^\"\\\\\\x7F\\x00-\\x1F]".to_string()),
            '\\' => self.escape(),
            '^' | '$' | '*' | '+' | '?' | '{' | '}' | ']' => None,
            c => plain(c).map(|c| super::literal(&c.to_string())),
        }
    }

    fn escape(&mut self) -> Option<String> {
        match self.bump()? {
            'd' => Some("[0-9]".to_string()),
            'w' => Some("[a-zA-Z0-9_]".to_string()),
            c if c.is_ascii_punctuation() && c != '"' && c != '\\' => {
                Some(super::literal(&c.to_string()))
            }
            _ => None,
        }
    }

    fn class(&mut self) -> Option<String> {
        if self.peek() == Some('^') {
            return None;
        }
        let mut items = String::new();
        let mut dash = false;
        let mut first = true;
        loop {
            let c = self.bump()?;
            match c {
                ']' if !first => break,
                '\\' => match self.bump()? {
                    'd' => items.push_str("0-9"),
                    'w' => items.push_str("a-zA-Z0-9_"),
                    '-' => dash = true,
                    e @ (']' | '[') => {
                        items.push('\\');
                        items.push(e);
                    }
                    '^' if !items.is_empty() => items.push('^'),
                    e if e.is_ascii_punctuation() && !matches!(e, '"' | '\\' | '^') => {
                        items.push(e)
                    }
                    _ => return None,
                },
                '-' if first || self.peek() == Some(']') => dash = true,
                '^' if items.is_empty() => return None,
                c => items.push(plain(c)?),
            }
            first = false;
        }
        if dash {
            items.push('-');
        }
        (!items.is_empty()).then(|| format!("[{items}]"))
    }

    fn quantifier(&mut self, atom: String) -> Option<String> {
        let suffix = match self.peek() {
            Some(q @ ('?' | '*' | '+')) => {
                self.at += 1;
                q.to_string()
            }
            Some('{') => {
                self.at += 1;
                let mut body = String::new();
                loop {
                    let c = self.bump()?;
                    if c == '}' {
                        break;
                    }
                    if !(c.is_ascii_digit() || c == ',') {
                        return None;
                    }
                    body.push(c);
                }
                let valid = match body.split_once(',') {
                    None => body.parse::<u32>().is_ok(),
                    Some((lo, hi)) => {
                        lo.parse::<u32>().is_ok() && (hi.is_empty() || hi.parse::<u32>().is_ok())
                    }
                };
                if !valid {
                    return None;
                }
                format!("{{{body}}}")
            }
            _ => return Some(atom),
        };
        if matches!(self.peek(), Some('?' | '+')) {
            return None;
        }
        Some(format!("{atom}{suffix}"))
    }
}

/// A character that stands for itself inside a JSON string.
fn plain(c: char) -> Option<char> {
    (c != '"' && c != '\\' && !c.is_control()).then_some(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_the_subset() {
        assert_eq!(
            to_gbnf("^#W[0-9]{7}$").as_deref(),
            Some("\"#\" \"W\" [0-9]{7}")
        );
        assert_eq!(
            to_gbnf("^(a|bc)?\\d+$").as_deref(),
            Some("( ( \"a\" | \"b\" \"c\" ) )? [0-9]+")
        );
        assert_eq!(to_gbnf("^[A-Z\\-_]$").as_deref(), Some("[A-Z_-]"));
    }

    #[test]
    fn refuses_the_rest() {
        for bad in [
            "abc", "^a(?=b)$", "^\"$", "^[^a]$", "^a{x}$", "^(a$", "^a\\1$", "^a*?$",
        ] {
            assert_eq!(to_gbnf(bad), None, "{bad}");
        }
    }
}
