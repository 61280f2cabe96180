//! The `calculate` tool: Python's `eval` restricted to the characters
//! `0123456789+-*/(). `, followed by `str(round(float(result), 2))`.
//!
//! Integers are exact (Python ints) while they fit in 128 bits; `/` is true
//! division, `//` floor division, `**` power, with Python's error texts for
//! the usual mistakes (division by zero, unclosed parentheses, leading zeros).

use crate::pyjson::py_round;
use lifeharness_core::py::float_repr;

const SYNTAX: &str = "invalid syntax (<string>, line 1)";

/// Runs the tool on `expression`; `Err` is the exception text.
pub fn calculate(expression: &str) -> Result<String, String> {
    if !expression.chars().all(|c| "0123456789+-*/(). ".contains(c)) {
        return Err("Invalid characters in expression".to_string());
    }
    if expression.trim().is_empty() {
        return Err("invalid syntax (<string>, line 0)".to_string());
    }
    let tokens = tokenize(expression)?;
    let mut parser = Parser { tokens, pos: 0 };
    let value = parser.expr()?;
    if parser.pos != parser.tokens.len() {
        return Err(match parser.tokens.get(parser.pos) {
            Some(Tok::Close) => "unmatched ')' (<string>, line 1)".to_string(),
            _ => SYNTAX.to_string(),
        });
    }
    let float = value.to_float()?;
    let rounded = py_round(float, 2);
    Ok(float_repr(rounded))
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Num {
    Int(i128),
    /// An integer too large for 128 bits (approximated).
    BigInt(f64),
    Float(f64),
}

impl Num {
    fn as_f64(self) -> f64 {
        match self {
            Self::Int(i) => i as f64,
            Self::BigInt(f) | Self::Float(f) => f,
        }
    }

    fn is_int(self) -> bool {
        !matches!(self, Self::Float(_))
    }

    fn to_float(self) -> Result<f64, String> {
        match self {
            Self::BigInt(f) if !f.is_finite() => Err("int too large to convert to float".into()),
            other => Ok(other.as_f64()),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Num(Num),
    Plus,
    Minus,
    Star,
    Slash,
    DoubleSlash,
    Pow,
    Open,
    Close,
}

fn tokenize(s: &str) -> Result<Vec<Tok>, String> {
    let chars: Vec<char> = s.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    let mut depth = 0i32;
    while i < chars.len() {
        let c = chars[i];
        match c {
            ' ' => i += 1,
            '+' => {
                out.push(Tok::Plus);
                i += 1;
            }
            '-' => {
                out.push(Tok::Minus);
                i += 1;
            }
            '*' if chars.get(i + 1) == Some(&'*') => {
                out.push(Tok::Pow);
                i += 2;
            }
            '*' => {
                out.push(Tok::Star);
                i += 1;
            }
            '/' if chars.get(i + 1) == Some(&'/') => {
                out.push(Tok::DoubleSlash);
                i += 2;
            }
            '/' => {
                out.push(Tok::Slash);
                i += 1;
            }
            '(' => {
                depth += 1;
                out.push(Tok::Open);
                i += 1;
            }
            ')' => {
                if depth == 0 {
                    return Err("unmatched ')' (<string>, line 1)".to_string());
                }
                depth -= 1;
                out.push(Tok::Close);
                i += 1;
            }
            _ => {
                let start = i;
                while i < chars.len() && chars[i].is_ascii_digit() {
                    i += 1;
                }
                let mut is_float = false;
                if i < chars.len() && chars[i] == '.' {
                    is_float = true;
                    i += 1;
                    while i < chars.len() && chars[i].is_ascii_digit() {
                        i += 1;
                    }
                }
                let text: String = chars[start..i].iter().collect();
                if text == "." {
                    return Err(SYNTAX.to_string());
                }
                if is_float {
                    out.push(Tok::Num(Num::Float(text.parse().map_err(|_| SYNTAX)?)));
                } else {
                    if text.len() > 1 && text.starts_with('0') && text.chars().any(|d| d != '0') {
                        return Err("leading zeros in decimal integer literals are not permitted; use an 0o prefix for octal integers (<string>, line 1)".to_string());
                    }
                    out.push(Tok::Num(match text.parse::<i128>() {
                        Ok(v) => Num::Int(v),
                        Err(_) => Num::BigInt(text.parse().unwrap_or(f64::INFINITY)),
                    }));
                }
            }
        }
    }
    if depth > 0 {
        return Err("'(' was never closed (<string>, line 1)".to_string());
    }
    Ok(out)
}

struct Parser {
    tokens: Vec<Tok>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.tokens.get(self.pos)
    }

    fn expr(&mut self) -> Result<Num, String> {
        let mut left = self.term()?;
        while let Some(op) = self.peek().cloned() {
            match op {
                Tok::Plus | Tok::Minus => {
                    self.pos += 1;
                    let right = self.term()?;
                    left = arith(left, right, &op)?;
                }
                _ => break,
            }
        }
        Ok(left)
    }

    fn term(&mut self) -> Result<Num, String> {
        let mut left = self.factor()?;
        while let Some(op) = self.peek().cloned() {
            match op {
                Tok::Star | Tok::Slash | Tok::DoubleSlash => {
                    self.pos += 1;
                    let right = self.factor()?;
                    left = arith(left, right, &op)?;
                }
                _ => break,
            }
        }
        Ok(left)
    }

    fn factor(&mut self) -> Result<Num, String> {
        match self.peek() {
            Some(Tok::Plus) => {
                self.pos += 1;
                self.factor()
            }
            Some(Tok::Minus) => {
                self.pos += 1;
                Ok(match self.factor()? {
                    Num::Int(i) => Num::Int(-i),
                    Num::BigInt(f) => Num::BigInt(-f),
                    Num::Float(f) => Num::Float(-f),
                })
            }
            _ => self.power(),
        }
    }

    fn power(&mut self) -> Result<Num, String> {
        let base = self.atom()?;
        if self.peek() == Some(&Tok::Pow) {
            self.pos += 1;
            let exp = self.factor()?;
            return pow(base, exp);
        }
        Ok(base)
    }

    fn atom(&mut self) -> Result<Num, String> {
        match self.tokens.get(self.pos).cloned() {
            Some(Tok::Num(n)) => {
                self.pos += 1;
                if let Some(Tok::Num(_)) = self.peek() {
                    return Err(SYNTAX.to_string());
                }
                Ok(n)
            }
            Some(Tok::Open) => {
                self.pos += 1;
                let value = self.expr()?;
                if self.peek() != Some(&Tok::Close) {
                    return Err(SYNTAX.to_string());
                }
                self.pos += 1;
                Ok(value)
            }
            _ => Err(SYNTAX.to_string()),
        }
    }
}

fn arith(a: Num, b: Num, op: &Tok) -> Result<Num, String> {
    if let (Num::Int(x), Num::Int(y)) = (a, b) {
        let exact = match op {
            Tok::Plus => x.checked_add(y),
            Tok::Minus => x.checked_sub(y),
            Tok::Star => x.checked_mul(y),
            Tok::DoubleSlash => {
                if y == 0 {
                    return Err("integer division or modulo by zero".to_string());
                }
                x.checked_div(y).map(|q| {
                    // Python floors toward negative infinity.
                    if x % y != 0 && ((x < 0) != (y < 0)) {
                        q - 1
                    } else {
                        q
                    }
                })
            }
            _ => None,
        };
        if let Some(v) = exact {
            return Ok(Num::Int(v));
        }
    }
    let both_int = a.is_int() && b.is_int();
    let (x, y) = (a.as_f64(), b.as_f64());
    Ok(match op {
        Tok::Plus | Tok::Minus | Tok::Star => {
            let v = match op {
                Tok::Plus => x + y,
                Tok::Minus => x - y,
                _ => x * y,
            };
            if both_int {
                Num::BigInt(v)
            } else {
                Num::Float(v)
            }
        }
        Tok::Slash => {
            if y == 0.0 {
                return Err(if both_int {
                    "division by zero"
                } else {
                    "float division by zero"
                }
                .to_string());
            }
            Num::Float(x / y)
        }
        _ => {
            if y == 0.0 {
                return Err(if both_int {
                    "integer division or modulo by zero"
                } else {
                    "float floor division by zero"
                }
                .to_string());
            }
            let q = (x / y).floor();
            if both_int {
                Num::BigInt(q)
            } else {
                Num::Float(q)
            }
        }
    })
}

fn pow(base: Num, exp: Num) -> Result<Num, String> {
    if let (Num::Int(b), Num::Int(e)) = (base, exp) {
        if e >= 0 {
            if let Ok(e32) = u32::try_from(e)
                && let Some(v) = b.checked_pow(e32)
            {
                return Ok(Num::Int(v));
            }
            return Ok(Num::BigInt((b as f64).powf(e as f64)));
        }
        if b == 0 {
            return Err("0.0 cannot be raised to a negative power".to_string());
        }
        return Ok(Num::Float((b as f64).powf(e as f64)));
    }
    let (b, e) = (base.as_f64(), exp.as_f64());
    if b == 0.0 && e < 0.0 {
        return Err("0.0 cannot be raised to a negative power".to_string());
    }
    if b < 0.0 && e.fract() != 0.0 {
        return Err(
            "float() argument must be a string or a real number, not 'complex'".to_string(),
        );
    }
    let v = b.powf(e);
    if v.is_infinite() && b.is_finite() && e.is_finite() {
        return Err("(34, 'Numerical result out of range')".to_string());
    }
    Ok(Num::Float(v))
}

#[cfg(test)]
mod tests {
    use super::calculate;

    #[test]
    fn python_results() {
        let cases = [
            ("2 + 2", Ok("4.0")),
            ("2**0.5", Ok("1.41")),
            ("(100 - 15.5) * 3 / 7", Ok("36.21")),
            ("7 // 2", Ok("3.0")),
            ("-7 // 2", Ok("-4.0")),
            ("1/0", Err("division by zero")),
            ("1.0/0", Err("float division by zero")),
            ("7//0", Err("integer division or modulo by zero")),
            ("1 2", Err("invalid syntax (<string>, line 1)")),
            ("", Err("invalid syntax (<string>, line 0)")),
            ("(1", Err("'(' was never closed (<string>, line 1)")),
            (
                "01",
                Err(
                    "leading zeros in decimal integer literals are not permitted; use an 0o prefix for octal integers (<string>, line 1)",
                ),
            ),
            ("2**10000", Err("int too large to convert to float")),
            ("x", Err("Invalid characters in expression")),
        ];
        for (expr, expected) in cases {
            let got = calculate(expr);
            let got = got.as_deref().map_err(String::as_str);
            assert_eq!(got, expected, "{expr}");
        }
    }
}
