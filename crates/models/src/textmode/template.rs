//! A strict `{{variable}}` template renderer for prompt files.
//!
//! Strict means: every variable in the template must be given, every given
//! variable must be used, and a malformed placeholder is an error. Prompts
//! live in `crates/models/prompts/*.prompt.md`.

use crate::error::ModelsError;

/// The text-mode system prompt (tools and the action format).
pub const TEXT_MODE_PROMPT: &str = include_str!("../../prompts/text_mode.prompt.md");
/// How a tool result is shown to a model without a tool role.
pub const TOOL_RESULT_PROMPT: &str = include_str!("../../prompts/tool_result.prompt.md");

/// Renders `template`, replacing each `{{name}}` by its value in `vars`.
pub fn render(template: &str, vars: &[(&str, &str)]) -> Result<String, ModelsError> {
    let mut out = String::with_capacity(template.len());
    let mut used = vec![false; vars.len()];
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            return Err(ModelsError::Template(
                "unclosed '{{' in template".to_string(),
            ));
        };
        let name = after[..end].trim();
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(ModelsError::Template(format!(
                "bad placeholder '{{{{{name}}}}}'"
            )));
        }
        let Some(index) = vars.iter().position(|(key, _)| *key == name) else {
            return Err(ModelsError::Template(format!(
                "unknown variable '{name}' in template"
            )));
        };
        if let (Some(flag), Some((_, value))) = (used.get_mut(index), vars.get(index)) {
            *flag = true;
            out.push_str(value);
        }
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    if let Some(index) = used.iter().position(|u| !u) {
        let name = vars.get(index).map(|(k, _)| *k).unwrap_or_default();
        return Err(ModelsError::Template(format!(
            "variable '{name}' is not used by the template"
        )));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_and_is_strict() {
        assert_eq!(
            render("a {{x}} b {{ y }}", &[("x", "1"), ("y", "2")]).ok(),
            Some("a 1 b 2".to_string())
        );
        assert!(render("a {{x}}", &[]).is_err());
        assert!(render("a", &[("x", "1")]).is_err());
        assert!(render("a {{x", &[("x", "1")]).is_err());
        assert!(render("a {{x-y}}", &[("x-y", "1")]).is_err());
    }
}
