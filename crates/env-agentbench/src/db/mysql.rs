//! MySQL behaviour that changes answers and that SQLite lacks:
//!
//! - string literals: backslash escapes (`'a\nb'` holds a newline), and
//!   double-quoted strings are strings (MySQL without `ANSI_QUOTES`);
//! - identifiers may start with a digit (`1952_British_Grand_Prix_0`);
//! - `#` starts a comment;
//! - the default collation (`utf8mb4_0900_ai_ci`) ignores case and accents in
//!   comparisons, sorting, grouping and `LIKE` (whose escape is `\`).
//!
//! [`translate`] rewrites a statement's tokens into SQLite syntax;
//! [`fold`] and [`like`] give the collation and `LIKE` semantics.

use std::cmp::Ordering;

/// Folds a character for case- and accent-insensitive comparison.
fn fold_char(c: char, out: &mut String) {
    for l in c.to_lowercase() {
        let base = match l {
            'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'ā' | 'ă' | 'ą' => "a",
            'ç' | 'ć' | 'ĉ' | 'ċ' | 'č' => "c",
            'ď' | 'đ' | 'ð' => "d",
            'è' | 'é' | 'ê' | 'ë' | 'ē' | 'ĕ' | 'ė' | 'ę' | 'ě' => "e",
            'ĝ' | 'ğ' | 'ġ' | 'ģ' => "g",
            'ĥ' | 'ħ' => "h",
            'ì' | 'í' | 'î' | 'ï' | 'ĩ' | 'ī' | 'ĭ' | 'į' | 'ı' => "i",
            'ĵ' => "j",
            'ķ' => "k",
            'ĺ' | 'ļ' | 'ľ' | 'ŀ' | 'ł' => "l",
            'ñ' | 'ń' | 'ņ' | 'ň' => "n",
            'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'ō' | 'ŏ' | 'ő' => "o",
            'ŕ' | 'ŗ' | 'ř' => "r",
            'ś' | 'ŝ' | 'ş' | 'š' | 'ș' => "s",
            'ţ' | 'ť' | 'ŧ' | 'ț' => "t",
            'ù' | 'ú' | 'û' | 'ü' | 'ũ' | 'ū' | 'ŭ' | 'ů' | 'ű' | 'ų' => "u",
            'ŵ' => "w",
            'ý' | 'ÿ' | 'ŷ' => "y",
            'ź' | 'ż' | 'ž' => "z",
            'æ' => "ae",
            'œ' => "oe",
            'ß' => "ss",
            'þ' => "th",
            other => {
                out.push(other);
                continue;
            }
        };
        out.push_str(base);
    }
}

/// The case- and accent-folded form of `s`.
pub fn fold(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        fold_char(c, &mut out);
    }
    out
}

/// The `MYSQL` collation: compares folded text, then the raw text so that
/// the order is total and stable.
pub fn collate(a: &str, b: &str) -> Ordering {
    fold(a).cmp(&fold(b))
}

/// MySQL `LIKE` under the default collation (`%`, `_`, escape `escape`).
pub fn like(pattern: &str, value: &str, escape: char) -> bool {
    let mut tokens = Vec::new();
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        if c == escape {
            let lit = chars.next().unwrap_or(escape);
            tokens.push(Token::Lit(fold(&lit.to_string())));
        } else if c == '%' {
            tokens.push(Token::Any);
        } else if c == '_' {
            tokens.push(Token::One);
        } else {
            tokens.push(Token::Lit(fold(&c.to_string())));
        }
    }
    let value: Vec<char> = fold(value).chars().collect();
    let mut expanded = Vec::new();
    for t in tokens {
        match t {
            Token::Lit(s) => expanded.extend(s.chars().map(Pat::Char)),
            Token::Any => expanded.push(Pat::Any),
            Token::One => expanded.push(Pat::One),
        }
    }
    matches(&expanded, &value)
}

enum Token {
    Lit(String),
    Any,
    One,
}

#[derive(Clone, Copy)]
enum Pat {
    Char(char),
    Any,
    One,
}

/// Wildcard matching with backtracking on the last `%`.
fn matches(pat: &[Pat], value: &[char]) -> bool {
    let (mut p, mut v) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while v < value.len() {
        match pat.get(p) {
            Some(Pat::Any) => {
                star = Some((p, v));
                p += 1;
            }
            Some(Pat::One) => {
                p += 1;
                v += 1;
            }
            Some(Pat::Char(c)) if *c == value[v] => {
                p += 1;
                v += 1;
            }
            _ => match star {
                Some((sp, sv)) => {
                    p = sp + 1;
                    v = sv + 1;
                    star = Some((sp, sv + 1));
                }
                None => return false,
            },
        }
    }
    pat[p..].iter().all(|t| matches!(t, Pat::Any))
}

fn unescape_mysql(body: &str, quote: char) -> String {
    let mut out = String::with_capacity(body.len());
    let mut chars = body.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some('r') => out.push('\r'),
                Some('0') => out.push('\0'),
                Some('b') => out.push('\u{8}'),
                Some('Z') => out.push('\u{1a}'),
                // `\%` and `\_` keep their backslash (for LIKE).
                Some(k @ ('%' | '_')) => {
                    out.push('\\');
                    out.push(k);
                }
                Some(other) => out.push(other),
                None => out.push('\\'),
            }
        } else if c == quote && chars.peek() == Some(&quote) {
            chars.next();
            out.push(quote);
        } else {
            out.push(c);
        }
    }
    out
}

fn is_number_word(word: &str) -> bool {
    let lower = word.to_ascii_lowercase();
    if let Some(hex) = lower.strip_prefix("0x") {
        return !hex.is_empty() && hex.chars().all(|c| c.is_ascii_hexdigit());
    }
    if let Some(bin) = lower.strip_prefix("0b") {
        return !bin.is_empty() && bin.chars().all(|c| c == '0' || c == '1');
    }
    match lower.split_once('e') {
        Some((m, e)) => {
            m.chars().all(|c| c.is_ascii_digit())
                && !e.is_empty()
                && e.chars().all(|c| c.is_ascii_digit())
        }
        None => lower.chars().all(|c| c.is_ascii_digit()),
    }
}

/// Rewrites one MySQL statement into SQLite syntax (string literals,
/// digit-leading identifiers, `#` comments); the rest is kept as written.
pub fn translate(sql: &str) -> String {
    let chars: Vec<char> = sql.chars().collect();
    let mut out = String::with_capacity(sql.len() + 8);
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '\'' | '"' => {
                let mut j = i + 1;
                let mut body = String::new();
                loop {
                    match chars.get(j) {
                        None => break,
                        Some('\\') => {
                            body.push('\\');
                            if let Some(n) = chars.get(j + 1) {
                                body.push(*n);
                            }
                            j += 2;
                        }
                        Some(q) if *q == c => {
                            if chars.get(j + 1) == Some(&c) {
                                body.push(c);
                                body.push(c);
                                j += 2;
                            } else {
                                break;
                            }
                        }
                        Some(other) => {
                            body.push(*other);
                            j += 1;
                        }
                    }
                }
                if j >= chars.len() {
                    // Unterminated: leave it for SQLite to report.
                    out.extend(&chars[i..]);
                    return out;
                }
                let text = unescape_mysql(&body, c);
                out.push('\'');
                out.push_str(&text.replace('\'', "''"));
                out.push('\'');
                i = j + 1;
            }
            '`' => {
                let end = chars[i + 1..]
                    .iter()
                    .position(|&x| x == '`')
                    .map(|p| i + 1 + p);
                let end = end.unwrap_or(chars.len() - 1);
                out.extend(&chars[i..=end]);
                i = end + 1;
            }
            '#' => {
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
            }
            '-' if chars.get(i + 1) == Some(&'-') => {
                while i < chars.len() && chars[i] != '\n' {
                    out.push(chars[i]);
                    i += 1;
                }
            }
            '/' if chars.get(i + 1) == Some(&'*') => {
                let start = i;
                i += 2;
                while i < chars.len() && !(chars[i] == '*' && chars.get(i + 1) == Some(&'/')) {
                    i += 1;
                }
                i = (i + 2).min(chars.len());
                out.extend(&chars[start..i]);
            }
            c if c.is_alphanumeric() || c == '_' || c == '$' => {
                let start = i;
                while i < chars.len()
                    && (chars[i].is_alphanumeric() || chars[i] == '_' || chars[i] == '$')
                {
                    i += 1;
                }
                let word: String = chars[start..i].iter().collect();
                if word.starts_with(|c: char| c.is_ascii_digit()) && !is_number_word(&word) {
                    out.push('`');
                    out.push_str(&word);
                    out.push('`');
                } else {
                    out.push_str(&word);
                }
            }
            other => {
                out.push(other);
                i += 1;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_follow_mysql() {
        assert_eq!(
            translate(r"SELECT 'a\nb', 'it''s', 'x\'y'"),
            "SELECT 'a\nb', 'it''s', 'x''y'"
        );
        assert_eq!(translate(r#"WHERE a = "b""#), "WHERE a = 'b'");
        assert_eq!(translate(r"LIKE '50\%'"), r"LIKE '50\%'");
        assert_eq!(translate("SELECT 1 # note"), "SELECT 1 ");
    }

    #[test]
    fn digit_leading_identifiers_are_quoted() {
        assert_eq!(
            translate("INSERT INTO 1952_Grand_Prix (Pos) VALUES (22, 1e3, 0x1F, 2.5)"),
            "INSERT INTO `1952_Grand_Prix` (Pos) VALUES (22, 1e3, 0x1F, 2.5)"
        );
        assert_eq!(translate("SELECT `1a` FROM t"), "SELECT `1a` FROM t");
    }

    #[test]
    fn collation_ignores_case_and_accents() {
        assert_eq!(collate("Montréal", "montreal"), Ordering::Equal);
        assert_eq!(collate("Straße", "STRASSE"), Ordering::Equal);
        assert_ne!(collate("a ", "a"), Ordering::Equal);
        assert!(like("%montreal%", "Montréal-Pierre", '\\'));
        assert!(like("a_c", "ABC", '\\'));
        assert!(!like(r"50\%", "500", '\\'));
        assert!(like(r"50\%", "50%", '\\'));
    }
}
