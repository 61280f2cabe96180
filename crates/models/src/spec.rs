//! Model specs: the strings users pass as `--model`.
//!
//! ```text
//! embedded:smollm2-135m            a catalog model, fetched on first use
//! embedded:gemma3-270m?temperature=0.7&seed=3
//! gguf:/path/to/model.gguf         any local GGUF file
//! openai:<model>@<base-url>?api_key_env=OPENAI_API_KEY&max_tokens=512
//! openai:<model>@<base-url>?text_mode=on&grammar=gbnf   llama.cpp server: guided GBNF
//! openai:<model>@<base-url>?text_mode=on&grammar=vllm   vLLM structured outputs
//! scripted:/path/to/script.json    replays a script (tests, dry runs)
//! ```
//!
//! Options follow a `?` as `key=value` pairs joined by `&`; an unknown key is
//! an error naming it, and every on/off option goes through one parser that
//! rejects what it does not understand. [`load_model`] turns a spec into an
//! `Arc<dyn Model>`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use lifeharness_core::{ChatRequest, Message, Model, ModelTurn};

use crate::catalog;
use crate::embedded::{EmbeddedConfig, EmbeddedModel};
use crate::error::ModelsError;
use crate::openai::{GrammarParam, OpenAiConfig, OpenAiModel};
use crate::pull::{self, PullOptions};
use crate::scripted::ScriptedModel;

/// A parsed model spec.
#[derive(Debug, Clone, PartialEq)]
pub enum ModelSpec {
    /// A catalog model run in-process.
    Embedded {
        /// The catalog name.
        name: String,
        /// Settings.
        config: EmbeddedConfig,
    },
    /// A local GGUF file run in-process.
    Gguf {
        /// The file.
        path: PathBuf,
        /// Settings.
        config: EmbeddedConfig,
    },
    /// An OpenAI-compatible server.
    OpenAi(OpenAiConfig),
    /// A scripted model read from a JSON file.
    Scripted {
        /// The script file.
        path: PathBuf,
    },
}

fn options(spec: &str, query: Option<&str>) -> Result<Vec<(String, String)>, ModelsError> {
    let Some(query) = query else {
        return Ok(Vec::new());
    };
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            pair.split_once('=')
                .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
                .ok_or_else(|| ModelsError::spec(spec, format!("option '{pair}' is not key=value")))
        })
        .collect()
}

fn num<T: std::str::FromStr>(spec: &str, key: &str, value: &str) -> Result<T, ModelsError> {
    value
        .parse()
        .map_err(|_| ModelsError::spec(spec, format!("option {key}={value} is not a valid number")))
}

/// An on/off option: exactly `1`/`0`, `true`/`false`, `on`/`off` or
/// `yes`/`no` (any case); anything else is an error naming the option.
fn flag(spec: &str, key: &str, value: &str) -> Result<bool, ModelsError> {
    match value.to_ascii_lowercase().as_str() {
        "1" | "true" | "on" | "yes" => Ok(true),
        "0" | "false" | "off" | "no" => Ok(false),
        _ => Err(ModelsError::spec(
            spec,
            format!("option {key}={value} is not on/off (1/0, true/false, on/off, yes/no)"),
        )),
    }
}

/// The value of an option that names one of two choices.
fn pick<T: Copy>(
    spec: &str,
    key: &str,
    value: &str,
    [(a, when_a), (b, when_b)]: [(&str, T); 2],
) -> Result<T, ModelsError> {
    if value == a {
        Ok(when_a)
    } else if value == b {
        Ok(when_b)
    } else {
        Err(ModelsError::spec(
            spec,
            format!("option {key}={value} must be '{a}' or '{b}'"),
        ))
    }
}

fn stops(value: &str) -> Vec<String> {
    value
        .split(',')
        .filter(|s| !s.is_empty())
        .map(|s| s.replace("\\n", "\n"))
        .collect()
}

fn embedded_config(
    spec: &str,
    opts: &[(String, String)],
    chat: bool,
) -> Result<EmbeddedConfig, ModelsError> {
    let mut config = EmbeddedConfig {
        chat,
        ..EmbeddedConfig::default()
    };
    for (key, value) in opts {
        match key.as_str() {
            "n_ctx" | "ctx" => config.n_ctx = num(spec, key, value)?,
            "n_batch" => config.n_batch = num(spec, key, value)?,
            "threads" => config.threads = Some(num(spec, key, value)?),
            "max_sessions" => config.max_sessions = num(spec, key, value)?,
            "prefix_cache" => config.prefix_cache = flag(spec, key, value)?,
            "max_tokens" => config.max_tokens = num(spec, key, value)?,
            "temperature" => config.temperature = num(spec, key, value)?,
            "top_p" => config.top_p = num(spec, key, value)?,
            "top_k" => config.top_k = num(spec, key, value)?,
            "seed" => config.seed = num(spec, key, value)?,
            "stop" => config.stop = stops(value),
            "grammar_mask" => {
                config.full_grammar_mask =
                    pick(spec, key, value, [("top", false), ("full", true)])?;
            }
            "prompt" => {
                config.chat = pick(spec, key, value, [("chat", true), ("completion", false)])?;
            }
            _ => {
                return Err(ModelsError::spec(
                    spec,
                    format!("unknown option '{key}' for an embedded model"),
                ));
            }
        }
    }
    if config.n_ctx < 64 || config.n_batch == 0 || config.max_tokens == 0 {
        return Err(ModelsError::spec(
            spec,
            "n_ctx must be at least 64; n_batch and max_tokens at least 1",
        ));
    }
    Ok(config)
}

fn openai_config(
    spec: &str,
    rest: &str,
    opts: &[(String, String)],
) -> Result<OpenAiConfig, ModelsError> {
    let (model, base) = rest
        .split_once('@')
        .ok_or_else(|| ModelsError::spec(spec, "expected openai:<model>@<base-url>"))?;
    if model.is_empty() || !(base.starts_with("http://") || base.starts_with("https://")) {
        return Err(ModelsError::spec(
            spec,
            "expected openai:<model>@<http(s) base-url>",
        ));
    }
    let mut config = OpenAiConfig::new(model, base);
    for (key, value) in opts {
        match key.as_str() {
            "api_key_env" => config.api_key_env = Some(value.clone()),
            "temperature" => config.temperature = Some(num(spec, key, value)?),
            "seed" => config.seed = Some(num(spec, key, value)?),
            "max_tokens" => config.max_tokens = Some(num(spec, key, value)?),
            "stop" => config.stop = stops(value),
            "timeout_s" => {
                config.timeout = Duration::from_secs_f64(num::<f64>(spec, key, value)?.max(0.001))
            }
            "retries" => config.retry.max_retries = num(spec, key, value)?,
            "concurrency" => config.max_concurrency = num::<usize>(spec, key, value)?.max(1),
            "jitter_seed" => config.jitter_seed = num(spec, key, value)?,
            "response_format" => config.response_format = flag(spec, key, value)?,
            "text_mode" => config.text_mode = flag(spec, key, value)?,
            "grammar" => {
                config.grammar = match value.as_str() {
                    "gbnf" | "llama.cpp" => Some(GrammarParam::Gbnf),
                    "vllm" => Some(GrammarParam::Vllm),
                    "off" | "none" => None,
                    _ => {
                        return Err(ModelsError::spec(
                            spec,
                            format!(
                                "grammar={value}: expected gbnf (llama.cpp server), vllm or off"
                            ),
                        ));
                    }
                }
            }
            _ => {
                return Err(ModelsError::spec(
                    spec,
                    format!("unknown option '{key}' for an openai model"),
                ));
            }
        }
    }
    if config.grammar.is_some() && !config.text_mode {
        return Err(ModelsError::spec(
            spec,
            "grammar= constrains the text-mode protocol; add text_mode=on",
        ));
    }
    Ok(config)
}

impl ModelSpec {
    /// Parses a spec string.
    pub fn parse(spec: &str) -> Result<Self, ModelsError> {
        let (kind, rest) = spec.split_once(':').ok_or_else(|| {
            ModelsError::spec(
                spec,
                "expected <kind>:<target> (embedded, gguf, openai, scripted)",
            )
        })?;
        let (target, query) = match rest.split_once('?') {
            Some((t, q)) => (t, Some(q)),
            None => (rest, None),
        };
        let opts = options(spec, query)?;
        match kind {
            "embedded" => {
                let name = if target.is_empty() {
                    catalog::DEFAULT_MODEL
                } else {
                    target
                };
                let entry = catalog::find(name).ok_or_else(|| ModelsError::UnknownModel {
                    name: name.to_string(),
                    known: catalog::known_names(),
                })?;
                Ok(Self::Embedded {
                    name: name.to_string(),
                    config: embedded_config(spec, &opts, entry.chat)?,
                })
            }
            "gguf" if !target.is_empty() => Ok(Self::Gguf {
                path: PathBuf::from(target),
                config: embedded_config(spec, &opts, true)?,
            }),
            "openai" => Ok(Self::OpenAi(openai_config(spec, target, &opts)?)),
            "scripted" if !target.is_empty() => match opts.first() {
                Some((key, _)) => Err(ModelsError::spec(
                    spec,
                    format!("unknown option '{key}' for a scripted model"),
                )),
                None => Ok(Self::Scripted {
                    path: PathBuf::from(target),
                }),
            },
            _ => Err(ModelsError::spec(
                spec,
                "expected embedded:<name>, gguf:<path>, openai:<model>@<url> or scripted:<path>",
            )),
        }
    }
}

/// Builds the model a spec names, fetching an embedded model on first use
/// (with a progress bar on stderr when `pull.progress`).
pub async fn load_model(spec: &str, pull: &PullOptions) -> Result<Arc<dyn Model>, ModelsError> {
    Ok(match ModelSpec::parse(spec)? {
        ModelSpec::Embedded { name, config } => {
            let path = pull::pull(&name, pull).await?;
            Arc::new(load_embedded(path, config, spec.to_string()).await?)
        }
        ModelSpec::Gguf { path, config } => {
            Arc::new(load_embedded(path, config, spec.to_string()).await?)
        }
        ModelSpec::OpenAi(config) => Arc::new(OpenAiModel::new(config)?.with_spec(spec)),
        ModelSpec::Scripted { path } => {
            let text = std::fs::read_to_string(&path).map_err(|e| ModelsError::io(&path, e))?;
            let model = ScriptedModel::from_json(&text)
                .map_err(|reason| ModelsError::spec(spec, reason))?;
            Arc::new(model)
        }
    })
}

async fn load_embedded(
    path: PathBuf,
    config: EmbeddedConfig,
    spec: String,
) -> Result<EmbeddedModel, ModelsError> {
    tokio::task::spawn_blocking(move || EmbeddedModel::load(&path, config, spec))
        .await
        .map_err(|e| ModelsError::Load(e.to_string()))?
}

/// One row of `lifeharness models list`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ModelListing {
    /// The spec that names it.
    pub spec: String,
    /// One line about it.
    pub description: String,
    /// Its licence.
    pub licence: String,
    /// Where it is cached, if it is.
    pub cached: Option<PathBuf>,
}

/// The catalog models and whether each is in the cache (the file is there;
/// its digest is checked when it is loaded or pulled).
pub fn list_models(models_dir: &std::path::Path) -> Vec<ModelListing> {
    catalog::CATALOG
        .iter()
        .map(|entry| {
            let path = models_dir.join(entry.name).join(pull::GGUF_FILE);
            ModelListing {
                spec: format!("embedded:{}", entry.name),
                description: entry.description.to_string(),
                licence: entry.licence.to_string(),
                cached: path.is_file().then_some(path),
            }
        })
        .collect()
}

/// One user message to the model a spec names, without tools: what
/// `lifeharness chat --model SPEC "message"` prints.
pub async fn chat(spec: &str, message: &str, pull: &PullOptions) -> Result<ModelTurn, ModelsError> {
    let model = load_model(spec, pull).await?;
    let request = ChatRequest {
        messages: vec![Message::user(message)],
        session: Some("chat".to_string()),
        ..ChatRequest::default()
    };
    let turn = model.chat(&request).await?;
    model.end_session("chat");
    Ok(turn)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_parse() {
        assert!(matches!(
            ModelSpec::parse("embedded:smollm2-135m"),
            Ok(ModelSpec::Embedded { .. })
        ));
        assert!(
            matches!(ModelSpec::parse("embedded:"), Ok(ModelSpec::Embedded { name, .. }) if name == "smollm2-135m")
        );
        let gemma = ModelSpec::parse("embedded:gemma3-270m?temperature=0.5&seed=3&stop=a,b");
        assert!(matches!(gemma, Ok(ModelSpec::Embedded { config, .. })
            if !config.chat && config.seed == 3 && config.stop == ["a", "b"] && config.temperature == 0.5));
        assert!(
            matches!(ModelSpec::parse("gguf:/x/y.gguf?n_ctx=2048"), Ok(ModelSpec::Gguf { config, .. }) if config.n_ctx == 2048)
        );
        let openai = ModelSpec::parse(
            "openai:gpt-4o-mini@https://api.example.com/v1?api_key_env=KEY&max_tokens=7&concurrency=2",
        );
        assert!(matches!(openai, Ok(ModelSpec::OpenAi(c))
            if c.model == "gpt-4o-mini" && c.base_url == "https://api.example.com/v1"
            && c.api_key_env.as_deref() == Some("KEY") && c.max_tokens == Some(7) && c.max_concurrency == 2));
        assert!(matches!(
            ModelSpec::parse("scripted:a.json"),
            Ok(ModelSpec::Scripted { .. })
        ));
    }

    #[test]
    fn bad_specs_say_why() {
        for bad in [
            "smollm2",
            "embedded:nope",
            "embedded:smollm2-135m?temperature=hot",
            "embedded:smollm2-135m?colour=red",
            "embedded:smollm2-135m?seed",
            "gguf:",
            "openai:gpt",
            "openai:gpt@ftp://x",
            "openai:gpt@http://x?bogus=1",
            "scripted:",
            "other:x",
        ] {
            assert!(ModelSpec::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn on_off_options_share_one_parser() {
        let openai = |q: &str| ModelSpec::parse(&format!("openai:m@http://x/v1?{q}"));
        let embedded = |q: &str| ModelSpec::parse(&format!("embedded:smollm2-135m?{q}"));
        for (value, want) in [
            ("on", true),
            ("ON", true),
            ("1", true),
            ("true", true),
            ("Yes", true),
            ("off", false),
            ("0", false),
            ("False", false),
            ("no", false),
        ] {
            assert!(
                matches!(openai(&format!("text_mode={value}")), Ok(ModelSpec::OpenAi(c)) if c.text_mode == want),
                "text_mode={value}"
            );
            assert!(
                matches!(openai(&format!("response_format={value}")), Ok(ModelSpec::OpenAi(c)) if c.response_format == want),
                "response_format={value}"
            );
            assert!(
                matches!(embedded(&format!("prefix_cache={value}")), Ok(ModelSpec::Embedded { config, .. }) if config.prefix_cache == want),
                "prefix_cache={value}"
            );
        }
        for (value, want) in [("top", false), ("full", true)] {
            assert!(
                matches!(embedded(&format!("grammar_mask={value}")), Ok(ModelSpec::Embedded { config, .. }) if config.full_grammar_mask == want),
                "grammar_mask={value}"
            );
        }
        assert!(
            matches!(embedded("seed=1"), Ok(ModelSpec::Embedded { config, .. }) if !config.full_grammar_mask)
        );
        for (result, option) in [
            (embedded("grammar_mask=all"), "grammar_mask=all"),
            (openai("text_mode=maybe"), "text_mode=maybe"),
            (openai("response_format=2"), "response_format=2"),
            (embedded("prefix_cache=maybe"), "prefix_cache=maybe"),
            (embedded("prefix_cache="), "prefix_cache="),
        ] {
            // The reason (not just the echoed spec) names the option and value.
            let reason = reason(result);
            assert!(reason.contains(option), "{option}: {reason}");
        }
        assert!(reason(openai("text_mod=on")).contains("'text_mod'"));
        assert!(matches!(
            openai("text_mode=on&grammar=gbnf"),
            Ok(ModelSpec::OpenAi(c)) if c.grammar == Some(GrammarParam::Gbnf)
        ));
        assert!(matches!(
            openai("text_mode=on&grammar=vllm"),
            Ok(ModelSpec::OpenAi(c)) if c.grammar == Some(GrammarParam::Vllm)
        ));
        assert!(reason(openai("grammar=gbnf")).contains("text_mode=on"));
        assert!(reason(openai("text_mode=on&grammar=lark")).contains("grammar=lark"));
        assert!(reason(embedded("prefix=on")).contains("'prefix'"));
        assert!(reason(ModelSpec::parse("scripted:s.json?text_mode=on")).contains("'text_mode'"));
        assert!(reason(embedded("prompt=maybe")).contains("prompt=maybe"));
    }

    fn reason(result: Result<ModelSpec, ModelsError>) -> String {
        match result {
            Err(ModelsError::Spec { reason, .. }) => reason,
            other => panic!("expected a spec error, got {other:?}"),
        }
    }

    #[test]
    fn listing_knows_the_catalog() {
        let dir = std::path::Path::new("/nonexistent-lifeharness-test");
        let list = list_models(dir);
        assert_eq!(list.len(), catalog::CATALOG.len());
        assert!(list.iter().all(|m| m.cached.is_none()));
    }
}
