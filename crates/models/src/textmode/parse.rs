//! Reads actions back from a model's text.
//!
//! Accepted forms, in order of precedence: `<tool_call>{...}</tool_call>`
//! blocks, fenced code blocks holding a JSON object, and a bare JSON object
//! with a `"name"` field. Text outside the actions is a message to the user.
//! The parser never panics; a malformed action sets `format_error`.

use lifeharness_core::ToolCall;
use serde::Deserialize;
use serde_json::value::RawValue;

/// How many `{` positions the bare-object scan tries before giving up.
const MAX_BARE_CANDIDATES: usize = 32;

/// What the model's text amounts to.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ParsedOutput {
    /// Text for the user (outside any action), if any.
    pub text: Option<String>,
    /// The actions found, in order.
    pub calls: Vec<ToolCall>,
    /// Why an apparent action could not be read.
    pub format_error: Option<String>,
}

#[derive(Deserialize)]
struct RawAction<'a> {
    #[serde(borrow, default)]
    name: Option<&'a RawValue>,
    #[serde(borrow, default)]
    arguments: Option<&'a RawValue>,
    #[serde(borrow, default)]
    parameters: Option<&'a RawValue>,
    #[serde(borrow, default)]
    function: Option<&'a RawValue>,
}

/// Parses `output`; call ids are `{id_prefix}{index}`.
pub fn parse_output(output: &str, id_prefix: &str) -> ParsedOutput {
    if output.trim().is_empty() {
        return ParsedOutput {
            text: None,
            calls: Vec::new(),
            format_error: Some("the model wrote nothing".to_string()),
        };
    }
    let (regions, explicit) = find_regions(output);
    let mut calls = Vec::new();
    let mut errors = Vec::new();
    for region in &regions {
        match read_actions(&output[region.0..region.1], id_prefix, calls.len()) {
            Ok(found) => calls.extend(found),
            Err(err) => errors.push(err),
        }
    }
    if regions.is_empty() && looks_like_json_attempt(output) && !explicit {
        errors.push(
            match serde_json::from_str::<serde_json::Value>(output.trim()) {
                Ok(_) => "the JSON object has no string field \"name\"".to_string(),
                Err(err) => format!("the action is not valid JSON: {err}"),
            },
        );
    }
    if !errors.is_empty() {
        return ParsedOutput {
            text: Some(output.to_string()),
            calls,
            format_error: Some(errors.join("; ")),
        };
    }
    let mut text = String::new();
    let mut at = 0;
    for (start, end) in &regions {
        text.push_str(&output[at..*start]);
        text.push('\n');
        at = *end;
    }
    text.push_str(&output[at..]);
    let text = clean_text(&text, !regions.is_empty());
    ParsedOutput {
        text: (!text.is_empty()).then_some(text),
        calls,
        format_error: None,
    }
}

/// Removes the wrappers left around actions and surrounding blank space.
fn clean_text(text: &str, had_actions: bool) -> String {
    let mut out = text.to_string();
    if had_actions {
        for marker in ["<tool_call>", "</tool_call>"] {
            out = out.replace(marker, "");
        }
    }
    out.lines()
        .map(str::trim_end)
        .filter(|line| !(had_actions && line.trim().starts_with("```")))
        .collect::<Vec<_>>()
        .join("\n")
        .trim()
        .to_string()
}

fn looks_like_json_attempt(output: &str) -> bool {
    let trimmed = output.trim();
    trimmed.starts_with('{') || trimmed.starts_with("[{")
}

/// Byte ranges of the candidate actions, and whether they came from an
/// explicit wrapper (tags or fences).
fn find_regions(output: &str) -> (Vec<(usize, usize)>, bool) {
    let tagged = tag_regions(output);
    if !tagged.is_empty() {
        return (tagged, true);
    }
    let fenced = fence_regions(output);
    if !fenced.is_empty() {
        return (fenced, true);
    }
    (bare_regions(output), false)
}

fn tag_regions(output: &str) -> Vec<(usize, usize)> {
    const OPEN: &str = "<tool_call>";
    const CLOSE: &str = "</tool_call>";
    let mut regions = Vec::new();
    let mut at = 0;
    while let Some(found) = output[at..].find(OPEN) {
        let start = at + found + OPEN.len();
        let end = output[start..]
            .find(CLOSE)
            .map_or(output.len(), |offset| start + offset);
        regions.push((start, end));
        at = if end == output.len() {
            end
        } else {
            end + CLOSE.len()
        };
        if at >= output.len() {
            break;
        }
    }
    regions
}

fn fence_regions(output: &str) -> Vec<(usize, usize)> {
    let mut regions = Vec::new();
    let mut at = 0;
    while let Some(found) = output[at..].find("```") {
        let open = at + found + 3;
        let Some(line_end) = output[open..].find('\n').map(|o| open + o + 1) else {
            break;
        };
        let info = output[open..line_end].trim();
        let Some(close) = output[line_end..].find("```").map(|o| line_end + o) else {
            break;
        };
        let body = &output[line_end..close];
        let is_json = info.is_empty() || info.eq_ignore_ascii_case("json");
        if is_json && looks_like_json_attempt(body) {
            regions.push((line_end, close));
        }
        at = close + 3;
    }
    regions
}

fn bare_regions(output: &str) -> Vec<(usize, usize)> {
    let mut regions = Vec::new();
    let mut at = 0;
    let mut tries = 0;
    while let Some(found) = output[at..].find('{') {
        tries += 1;
        if tries > MAX_BARE_CANDIDATES {
            break;
        }
        let start = at + found;
        let mut stream =
            serde_json::Deserializer::from_str(&output[start..]).into_iter::<&RawValue>();
        match stream.next() {
            Some(Ok(raw)) => {
                let end = start + stream.byte_offset();
                if is_action(raw.get()) {
                    regions.push((start, end));
                    at = end;
                } else {
                    at = end.max(start + 1);
                }
            }
            _ => at = start + 1,
        }
        if at >= output.len() {
            break;
        }
    }
    regions
}

fn is_action(json: &str) -> bool {
    serde_json::from_str::<RawAction<'_>>(json).is_ok_and(|a| {
        a.name
            .is_some_and(|n| serde_json::from_str::<String>(n.get()).is_ok())
            || a.function.is_some_and(|f| {
                let inner = f.get();
                inner.trim_start().starts_with('{') && inner.len() < json.len() && is_action(inner)
            })
    })
}

/// Reads one region: a JSON object, or an array of objects.
fn read_actions(region: &str, id_prefix: &str, first: usize) -> Result<Vec<ToolCall>, String> {
    let trimmed = unfence(region.trim());
    if trimmed.starts_with('[') {
        let items: Vec<&RawValue> = serde_json::from_str(trimmed)
            .map_err(|err| format!("the action list is not valid JSON: {err}"))?;
        return items
            .iter()
            .enumerate()
            .map(|(i, item)| read_action(item.get(), &format!("{id_prefix}{}", first + i)))
            .collect();
    }
    read_action(trimmed, &format!("{id_prefix}{first}")).map(|call| vec![call])
}

/// The body of a fenced block (a fence inside `<tool_call>` tags).
fn unfence(text: &str) -> &str {
    let Some(rest) = text.strip_prefix("```") else {
        return text;
    };
    let body = rest.split_once('\n').map_or("", |(_, body)| body);
    body.trim_end().strip_suffix("```").unwrap_or(body).trim()
}

fn read_action(json: &str, id: &str) -> Result<ToolCall, String> {
    let action: RawAction<'_> =
        serde_json::from_str(json).map_err(|err| format!("the action is not valid JSON: {err}"))?;
    if let Some(function) = action.function
        && function.get().trim_start().starts_with('{')
    {
        return read_action(function.get(), id);
    }
    let name = action
        .name
        .or(action.function)
        .and_then(|raw| serde_json::from_str::<String>(raw.get()).ok())
        .ok_or_else(|| "the action has no string field \"name\"".to_string())?;
    let raw_args = match action.arguments.or(action.parameters) {
        None => String::new(),
        Some(raw) => match serde_json::from_str::<String>(raw.get()) {
            Ok(inner) => inner,
            Err(_) => raw.get().to_string(),
        },
    };
    Ok(ToolCall::from_raw(id, name, raw_args))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(text: &str) -> ParsedOutput {
        parse_output(text, "call_")
    }

    #[test]
    fn bare_object() {
        let out = parse(r#"{"name":"get","arguments":{"key":"a"}}"#);
        assert_eq!(out.calls.len(), 1);
        assert_eq!(out.calls[0].name, "get");
        assert_eq!(out.calls[0].id, "call_0");
        assert_eq!(out.calls[0].arguments_raw, r#"{"key":"a"}"#);
        assert_eq!(out.text, None);
        assert_eq!(out.format_error, None);
    }

    #[test]
    fn prose_and_tags_and_fences() {
        let out = parse(
            "Let me check.\n<tool_call>\n{\"name\": \"get\", \"arguments\": {\"k\": 1}}\n</tool_call>",
        );
        assert_eq!(out.calls[0].args(), Some(&json!({"k": 1})));
        assert_eq!(out.text.as_deref(), Some("Let me check."));
        let out = parse("Sure:\n```json\n{\"name\": \"get\", \"arguments\": {}}\n```\nDone.");
        assert_eq!(out.calls[0].name, "get");
        assert_eq!(out.text.as_deref(), Some("Sure:\n\nDone."));
        let out = parse("I will call {\"name\":\"get\",\"arguments\":{}} now");
        assert_eq!(out.calls.len(), 1);
        assert_eq!(out.text.as_deref(), Some("I will call\n now"));
    }

    #[test]
    fn string_arguments_and_variants() {
        let out = parse(r#"{"name":"get","arguments":"{\"k\":2}"}"#);
        assert_eq!(out.calls[0].args(), Some(&json!({"k": 2})));
        let out = parse(r#"{"function":{"name":"get","parameters":{"k":3}}}"#);
        assert_eq!(out.calls[0].args(), Some(&json!({"k": 3})));
        let out = parse(r#"[{"name":"a","arguments":{}},{"name":"b","arguments":{}}]"#);
        assert_eq!(out.format_error, None);
        let out = parse(r#"<tool_call>[{"name":"a"},{"name":"b"}]</tool_call>"#);
        assert_eq!(
            out.calls.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(),
            vec!["call_0", "call_1"]
        );
    }

    #[test]
    fn plain_text_is_a_message() {
        let out = parse("Your order has shipped. {braces} are fine.");
        assert!(out.calls.is_empty());
        assert_eq!(out.format_error, None);
        assert_eq!(
            out.text.as_deref(),
            Some("Your order has shipped. {braces} are fine.")
        );
    }

    #[test]
    fn malformed_actions_are_format_errors() {
        for bad in [
            r#"{"name":"get","arguments":{"k":}"#,
            r#"{"arguments":{}}"#,
            "<tool_call>{\"name\": 3}</tool_call>",
            "```json\n{\"name\": \"x\", \n```",
            "   ",
        ] {
            let out = parse(bad);
            assert!(out.format_error.is_some(), "{bad}");
            assert!(out.calls.is_empty(), "{bad}");
        }
    }

    #[test]
    fn unclosed_tag_is_read_to_the_end() {
        let out = parse("<tool_call>{\"name\":\"get\",\"arguments\":{}}");
        assert_eq!(out.calls.len(), 1);
    }
}
