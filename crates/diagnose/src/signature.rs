//! Failure signatures: a tool and its error text with the particulars
//! (ids, numbers, quoted values) replaced, so that the same failure on
//! different records counts as one.

use std::sync::LazyLock;

use regex::Regex;

static QUOTED: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r#"'[^']*'|"[^"]*"|`[^`]*`"#).ok());
static IDS: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"#?\b[A-Za-z_]*\d[\w\-.:/]*").ok());
static SPACE: LazyLock<Option<Regex>> = LazyLock::new(|| Regex::new(r"\s+").ok());

/// The longest normalised pattern kept.
const MAX: usize = 80;

/// `text` with quoted values as `<v>`, anything holding a digit as `<id>`,
/// runs of white space as one space, cut to 80 characters.
pub fn normalise(text: &str) -> String {
    let mut out = text.trim().to_string();
    if let Some(re) = QUOTED.as_ref() {
        out = re.replace_all(&out, "<v>").into_owned();
    }
    if let Some(re) = IDS.as_ref() {
        out = re.replace_all(&out, "<id>").into_owned();
    }
    if let Some(re) = SPACE.as_ref() {
        out = re.replace_all(&out, " ").into_owned();
    }
    if out.chars().count() > MAX {
        out = out.chars().take(MAX).collect::<String>() + "…";
    }
    out
}

/// The signature of an error: `tool: pattern` where the environment named
/// the error's pattern, else `tool: <normalised text>`.
pub fn of_error(tool: &str, pattern: Option<&str>, text: &str) -> String {
    match pattern {
        Some(p) if p != "other_error" => format!("{tool}: {p}"),
        _ => format!("{tool}: {}", normalise(text)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn particulars_are_replaced() {
        assert_eq!(
            normalise("Error: Order #W2611340 not found"),
            "Error: Order <id> not found"
        );
        assert_eq!(
            normalise("near \"FORM\":   syntax error"),
            "near <v>: syntax error"
        );
        assert_eq!(
            normalise("Error: Flight HAT170 not available on date 2024-05-16"),
            normalise("Error: Flight HAT002 not available on date 2024-05-20")
        );
        assert_eq!(
            of_error("get_order_details", Some("entity_not_found"), "x"),
            "get_order_details: entity_not_found"
        );
        assert_eq!(
            of_error("t", Some("other_error"), "Error: 12 bad"),
            "t: Error: <id> bad"
        );
    }
}
