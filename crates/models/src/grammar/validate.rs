//! A GBNF syntax checker that mirrors llama.cpp's grammar parser, so a bad
//! grammar is refused in Rust before it reaches C++.
//!
//! It checks literals, character classes (and their escapes), groups,
//! repetition operators, that every referenced rule is defined, that `root`
//! exists, and that no rule is left-recursive.

use std::collections::{HashMap, HashSet};

/// Checks `text`; the error names what is wrong and where.
pub fn validate(text: &str) -> Result<(), String> {
    let mut parser = Parser {
        src: text.as_bytes(),
        at: 0,
    };
    let mut rules: HashMap<String, Vec<Vec<Elem>>> = HashMap::new();
    let mut refs = Vec::new();
    parser.space(true);
    while parser.at < parser.src.len() {
        let name = parser.name()?;
        parser.space(false);
        if !parser.eat("::=") {
            return Err(format!(
                "expecting ::= after '{name}' at byte {}",
                parser.at
            ));
        }
        parser.space(true);
        let alts = parser.alternates(&mut refs, false)?;
        if rules.insert(name.clone(), alts).is_some() {
            return Err(format!("rule '{name}' is defined twice"));
        }
        parser.space(true);
    }
    if !rules.contains_key("root") {
        return Err("grammar has no 'root' rule".to_string());
    }
    for name in &refs {
        if !rules.contains_key(name) {
            return Err(format!("undefined rule '{name}'"));
        }
    }
    check_left_recursion(&rules)
}

/// An element of a sequence, as far as the checks need it.
#[derive(Debug, Clone)]
enum Elem {
    /// Matches at least one character.
    Solid,
    /// May match the empty string (a `*`/`?`/`{0,..}` repetition, `""`).
    Optional(Vec<Vec<Elem>>),
    /// A rule reference.
    Ref(String),
    /// A group.
    Group(Vec<Vec<Elem>>),
}

struct Parser<'a> {
    src: &'a [u8],
    at: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.src.get(self.at).copied()
    }

    fn eat(&mut self, token: &str) -> bool {
        if self.src[self.at..].starts_with(token.as_bytes()) {
            self.at += token.len();
            true
        } else {
            false
        }
    }

    /// Skips blanks and comments; newlines too when `newlines`.
    fn space(&mut self, newlines: bool) {
        while let Some(c) = self.peek() {
            match c {
                b'#' => {
                    while self.peek().is_some_and(|c| c != b'\n') {
                        self.at += 1;
                    }
                }
                b' ' | b'\t' => self.at += 1,
                b'\r' | b'\n' if newlines => self.at += 1,
                _ => break,
            }
        }
    }

    fn name(&mut self) -> Result<String, String> {
        let start = self.at;
        while self
            .peek()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
        {
            self.at += 1;
        }
        if start == self.at {
            return Err(format!("expecting a rule name at byte {start}"));
        }
        Ok(String::from_utf8_lossy(&self.src[start..self.at]).into_owned())
    }

    fn alternates(
        &mut self,
        refs: &mut Vec<String>,
        nested: bool,
    ) -> Result<Vec<Vec<Elem>>, String> {
        let mut alts = vec![self.sequence(refs, nested)?];
        while self.peek() == Some(b'|') {
            self.at += 1;
            self.space(true);
            alts.push(self.sequence(refs, nested)?);
        }
        Ok(alts)
    }

    fn sequence(&mut self, refs: &mut Vec<String>, nested: bool) -> Result<Vec<Elem>, String> {
        let mut seq: Vec<Elem> = Vec::new();
        while let Some(c) = self.peek() {
            let elem = match c {
                b'"' => {
                    self.at += 1;
                    let mut empty = true;
                    while self.peek() != Some(b'"') {
                        if self.peek().is_none() {
                            return Err("unexpected end of input in a literal".to_string());
                        }
                        self.char()?;
                        empty = false;
                    }
                    self.at += 1;
                    if empty {
                        Elem::Optional(Vec::new())
                    } else {
                        Elem::Solid
                    }
                }
                b'[' => {
                    self.at += 1;
                    if self.peek() == Some(b'^') {
                        self.at += 1;
                    }
                    let mut first = true;
                    while self.peek() != Some(b']') || first {
                        if self.peek().is_none() {
                            return Err("unexpected end of input in a character class".to_string());
                        }
                        self.char()?;
                        if self.peek() == Some(b'-') && self.src.get(self.at + 1) != Some(&b']') {
                            self.at += 1;
                            self.char()?;
                        }
                        first = false;
                    }
                    self.at += 1;
                    Elem::Solid
                }
                b'(' => {
                    self.at += 1;
                    self.space(true);
                    let inner = self.alternates(refs, true)?;
                    if self.peek() != Some(b')') {
                        return Err(format!("expecting ')' at byte {}", self.at));
                    }
                    self.at += 1;
                    Elem::Group(inner)
                }
                b'.' => {
                    self.at += 1;
                    Elem::Solid
                }
                b'*' | b'+' | b'?' | b'{' => {
                    let Some(last) = seq.pop() else {
                        return Err(format!(
                            "expecting an item before a repetition at byte {}",
                            self.at
                        ));
                    };
                    let optional = self.repetition()?;
                    if optional {
                        Elem::Optional(vec![vec![last]])
                    } else {
                        last
                    }
                }
                c if c.is_ascii_alphanumeric() || c == b'-' || c == b'_' => {
                    let name = self.name()?;
                    refs.push(name.clone());
                    Elem::Ref(name)
                }
                _ => break,
            };
            seq.push(elem);
            self.space(nested);
        }
        Ok(seq)
    }

    /// Reads a repetition operator; true when it allows zero repetitions.
    fn repetition(&mut self) -> Result<bool, String> {
        let Some(op) = self.peek() else {
            return Err("unexpected end of input".to_string());
        };
        self.at += 1;
        match op {
            b'*' | b'?' => Ok(true),
            b'+' => Ok(false),
            _ => {
                self.space(false);
                let lo = self.int()?;
                self.space(false);
                let hi = if self.peek() == Some(b',') {
                    self.at += 1;
                    self.space(false);
                    if self.peek().is_some_and(|c| c.is_ascii_digit()) {
                        Some(self.int()?)
                    } else {
                        None
                    }
                } else {
                    Some(lo)
                };
                self.space(false);
                if self.peek() != Some(b'}') {
                    return Err(format!("expecting '}}' at byte {}", self.at));
                }
                self.at += 1;
                if hi.is_some_and(|hi| hi < lo) || lo > 10_000 || hi.is_some_and(|hi| hi > 10_000) {
                    return Err(format!("bad repetition bounds before byte {}", self.at));
                }
                Ok(lo == 0)
            }
        }
    }

    fn int(&mut self) -> Result<u64, String> {
        let start = self.at;
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.at += 1;
        }
        std::str::from_utf8(&self.src[start..self.at])
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| format!("expecting an integer at byte {start}"))
    }

    /// One (possibly escaped) character of a literal or class.
    fn char(&mut self) -> Result<(), String> {
        let Some(c) = self.peek() else {
            return Err("unexpected end of input".to_string());
        };
        if c != b'\\' {
            let width = match c {
                0x00..=0x7F => 1,
                0xC0..=0xDF => 2,
                0xE0..=0xEF => 3,
                _ => 4,
            };
            self.at = (self.at + width).min(self.src.len());
            return Ok(());
        }
        let Some(e) = self.src.get(self.at + 1).copied() else {
            return Err("unexpected end of input after '\\'".to_string());
        };
        self.at += 2;
        let hex = match e {
            b'x' => 2,
            b'u' => 4,
            b'U' => 8,
            b't' | b'r' | b'n' | b'\\' | b'"' | b'[' | b']' => 0,
            _ => {
                return Err(format!(
                    "unknown escape '\\{}' at byte {}",
                    e as char,
                    self.at - 2
                ));
            }
        };
        for _ in 0..hex {
            if !self.peek().is_some_and(|c| c.is_ascii_hexdigit()) {
                return Err(format!("expecting {hex} hex digits at byte {}", self.at));
            }
            self.at += 1;
        }
        Ok(())
    }
}

fn nullable(
    seq: &[Elem],
    rules: &HashMap<String, Vec<Vec<Elem>>>,
    seen: &mut HashSet<String>,
) -> bool {
    seq.iter().all(|e| match e {
        Elem::Solid => false,
        Elem::Optional(_) => true,
        Elem::Group(alts) => alts.iter().any(|a| nullable(a, rules, seen)),
        Elem::Ref(name) => {
            if !seen.insert(name.clone()) {
                return false;
            }
            let result = rules
                .get(name)
                .is_some_and(|alts| alts.iter().any(|a| nullable(a, rules, seen)));
            seen.remove(name);
            result
        }
    })
}

/// The rules that can be reached from the start of `seq` without consuming input.
fn left_refs(seq: &[Elem], rules: &HashMap<String, Vec<Vec<Elem>>>, out: &mut Vec<String>) {
    for elem in seq {
        match elem {
            Elem::Solid => return,
            Elem::Ref(name) => out.push(name.clone()),
            Elem::Optional(alts) | Elem::Group(alts) => {
                for alt in alts {
                    left_refs(alt, rules, out);
                }
            }
        }
        if !nullable(std::slice::from_ref(elem), rules, &mut HashSet::new()) {
            return;
        }
    }
}

fn check_left_recursion(rules: &HashMap<String, Vec<Vec<Elem>>>) -> Result<(), String> {
    let mut edges: HashMap<&str, Vec<String>> = HashMap::new();
    for (name, alts) in rules {
        let mut out = Vec::new();
        for alt in alts {
            left_refs(alt, rules, &mut out);
        }
        edges.insert(name, out);
    }
    for start in rules.keys() {
        let mut stack: Vec<String> = edges.get(start.as_str()).cloned().unwrap_or_default();
        let mut seen = HashSet::new();
        while let Some(next) = stack.pop() {
            if next == *start {
                return Err(format!("rule '{start}' is left-recursive"));
            }
            if seen.insert(next.clone()) {
                stack.extend(edges.get(next.as_str()).cloned().unwrap_or_default());
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_good_grammars() {
        let good = "root ::= \"a\" item* ( \"b\" | [c-e\\]] ){1,3}\n# comment\nitem ::= [^\"\\\\\\x7F] | \"\\u00e9\"\n";
        assert_eq!(validate(good), Ok(()));
    }

    #[test]
    fn refuses_bad_grammars() {
        for bad in [
            "item ::= \"a\"",
            "root ::= item",
            "root ::= \"a",
            "root ::= [a-",
            "root ::= ( \"a\"",
            "root ::= * \"a\"",
            "root ::= \"\\q\"",
            "root ::= \"a\"{3,1}",
            "root ::= root \"a\"",
            "root ::= a\na ::= \"x\"? root",
            "root ::= \"a\"\nroot ::= \"b\"",
            "root = \"a\"",
        ] {
            assert!(validate(bad).is_err(), "{bad}");
        }
    }
}
