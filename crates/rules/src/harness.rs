//! The harness file format (`format_version = 1`).

use std::collections::BTreeMap;
use std::path::Path;

use lifeharness_core::{BlockPolicy, FaultPolicy, HarnessInfo, hash::sha256_hex};
use schemars::JsonSchema;

use crate::spec::{
    ContextSpec, ContractSpec, LayerSwitches, RealizationSpec, RegulationSpec, SkillsSpec,
};
use serde::{Deserialize, Serialize};

/// The format version this build reads and writes.
pub const FORMAT_VERSION: u32 = 1;

/// Budgets and policies of the episode runtime.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct RuntimeSettings {
    /// Most model turns per episode.
    pub max_steps: usize,
    /// Most consecutive blocked actions before an action reaches the environment.
    pub max_blocked_per_step: usize,
    /// What to do when that budget is spent.
    pub on_block_budget: BlockPolicy,
    /// What to do when a layer fails internally (`end_episode`: exit
    /// `error/harness_fault`; `allow_unchecked`: the action runs, recorded as
    /// unchecked). A fault is never shown to the model as its error.
    pub on_fault: FaultPolicy,
}

impl Default for RuntimeSettings {
    fn default() -> Self {
        Self {
            max_steps: 30,
            max_blocked_per_step: 3,
            on_block_budget: BlockPolicy::PassThrough,
            on_fault: FaultPolicy::EndEpisode,
        }
    }
}

fn is_default_context(context: &ContextSpec) -> bool {
    *context == ContextSpec::default()
}

/// A harness file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Harness {
    /// Must be 1.
    pub format_version: u32,
    /// A short name.
    pub name: String,
    /// What this harness is for and where it came from.
    #[serde(default)]
    pub description: String,
    /// Layers log what they would do and change nothing.
    #[serde(default)]
    pub observe_only: bool,
    /// Where the harness came from (`hand-written`, `evolved`, ...).
    #[serde(default)]
    pub origin: String,
    /// Runtime budgets.
    #[serde(default)]
    pub runtime: RuntimeSettings,
    /// Which layers are on.
    #[serde(default)]
    pub layers: LayerSwitches,
    /// Layer 1: the environment contract.
    #[serde(default)]
    pub contract: ContractSpec,
    /// Layer 2: procedural skills.
    #[serde(default)]
    pub skills: SkillsSpec,
    /// Layer 3: action realization.
    #[serde(default)]
    pub realization: RealizationSpec,
    /// Layer 4: trajectory regulation.
    #[serde(default)]
    pub regulation: RegulationSpec,
    /// The context budget (prompts kept inside the model's window).
    #[serde(default, skip_serializing_if = "is_default_context")]
    pub context: ContextSpec,
    /// Where an evolved harness came from (absent for hand-written ones).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lineage: Option<Lineage>,
    /// Per rule id (or setting path such as `regulation.repeat_threshold`):
    /// how evolution found it.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub provenance: BTreeMap<String, Provenance>,
}

/// The origin of an evolved harness.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Lineage {
    /// The evolution that produced it.
    pub evolution: String,
    /// The id (content hash) of the harness it was evolved from.
    pub parent: String,
    /// The parent's name.
    #[serde(default)]
    pub parent_name: String,
    /// The model whose trajectories it was evolved from.
    pub source_model: String,
    /// The environment.
    pub environment: String,
    /// The split whose tasks it was evolved on (never a test split).
    pub split: String,
    /// The last round that changed it.
    pub round: u32,
}

/// How evolution found one rule or setting.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Provenance {
    /// `miner` or `proposer`.
    pub source: String,
    /// The miner (or proposer model) that proposed it.
    pub by: String,
    /// The failure signature it targets.
    pub signature: String,
    /// The failure category it targets.
    pub category: String,
    /// The round it was accepted in.
    pub round: u32,
    /// The trajectory steps that motivated it (`run/episode#step`).
    #[serde(default)]
    pub evidence: Vec<String>,
    /// How often it fired on the evolution's last evaluation.
    #[serde(default)]
    pub fired: usize,
}

/// A harness file that could not be used.
#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    /// The file could not be read.
    #[error("cannot read harness file {path}: {source}")]
    Read {
        /// The path.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The TOML is malformed or a field is wrong (the message names field and line).
    #[error("invalid harness file {path}: {message}")]
    Parse {
        /// The path (or `<string>`).
        path: String,
        /// The parser's message, with line and column.
        message: String,
    },
    /// A value is out of range or inconsistent.
    #[error("invalid harness file {path}: {message}")]
    Invalid {
        /// The path.
        path: String,
        /// What is wrong.
        message: String,
    },
}

impl Harness {
    /// The null harness: no layers, default budgets.
    pub fn null() -> Self {
        Self {
            format_version: FORMAT_VERSION,
            name: "null".to_string(),
            description: "No layers: the model talks to the environment directly.".to_string(),
            observe_only: false,
            origin: "built-in".to_string(),
            runtime: RuntimeSettings::default(),
            layers: LayerSwitches {
                contract: false,
                skills: false,
                realization: false,
                regulation: false,
            },
            contract: ContractSpec::default(),
            skills: SkillsSpec::default(),
            realization: RealizationSpec::default(),
            regulation: RegulationSpec::default(),
            context: ContextSpec::default(),
            lineage: None,
            provenance: BTreeMap::new(),
        }
    }

    /// Parses and validates harness TOML; `origin` names the source in errors.
    pub fn from_toml(text: &str, origin: &str) -> Result<Self, HarnessError> {
        let harness: Harness = toml::from_str(text).map_err(|e| HarnessError::Parse {
            path: origin.to_string(),
            message: e.to_string().trim_end().replace('\n', " | "),
        })?;
        harness.validate(origin)?;
        Ok(harness)
    }

    fn validate(&self, origin: &str) -> Result<(), HarnessError> {
        let invalid = |message: String| HarnessError::Invalid {
            path: origin.to_string(),
            message,
        };
        if self.format_version != FORMAT_VERSION {
            return Err(invalid(format!(
                "format_version is {}, this build reads {FORMAT_VERSION}",
                self.format_version
            )));
        }
        if self.runtime.max_steps == 0 {
            return Err(invalid("runtime.max_steps must be at least 1".to_string()));
        }
        if self.name.trim().is_empty() {
            return Err(invalid("name must not be empty".to_string()));
        }
        Ok(())
    }

    /// Parses, validates and compiles harness TOML, checking every rule's examples.
    pub fn compile_toml(text: &str, origin: &str) -> Result<crate::CompiledHarness, HarnessError> {
        let harness = Self::from_toml(text, origin)?;
        crate::CompiledHarness::compile(harness, Some(text), origin)
    }

    /// Reads and compiles a harness file.
    pub fn load_compiled(path: &Path) -> Result<crate::CompiledHarness, HarnessError> {
        let text = std::fs::read_to_string(path).map_err(|source| HarnessError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::compile_toml(&text, &path.display().to_string())
    }

    /// The canonical JSON form (the basis of the content hash).
    pub fn canonical_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }

    /// The content hash: sha256 of the canonical JSON text.
    pub fn content_hash(&self) -> String {
        sha256_hex(self.canonical_json().to_string().as_bytes())
    }

    /// The TOML text of this harness.
    pub fn to_toml(&self) -> Result<String, HarnessError> {
        toml::to_string_pretty(self).map_err(|e| HarnessError::Invalid {
            path: "<memory>".to_string(),
            message: e.to_string(),
        })
    }

    /// The record of this harness embedded in every trajectory.
    pub fn info(&self) -> HarnessInfo {
        HarnessInfo {
            id: self.content_hash(),
            name: self.name.clone(),
            config: self.canonical_json(),
        }
    }

    /// The JSON schema of the harness file.
    pub fn json_schema() -> serde_json::Value {
        serde_json::to_value(schemars::schema_for!(Harness)).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn null_harness_round_trips_and_hash_ignores_formatting() {
        let null = Harness::null();
        let text = null.to_toml().unwrap_or_default();
        let back = Harness::from_toml(&text, "null.toml");
        assert!(back.as_ref().is_ok_and(|h| *h == null), "{back:?}");
        let spaced = format!("# a comment\n\n{text}");
        let again = Harness::from_toml(&spaced, "x").map(|h| h.content_hash());
        assert_eq!(again.ok(), Some(null.content_hash()));
    }

    #[test]
    fn any_setting_changes_the_hash() {
        let mut h = Harness::null();
        let before = h.content_hash();
        h.runtime.max_blocked_per_step += 1;
        assert_ne!(before, h.content_hash());
    }

    #[test]
    fn errors_name_the_field_and_line() {
        let text = "format_version = 1\nname = \"x\"\n[runtime]\nmax_stepz = 3\n";
        let err = Harness::from_toml(text, "h.toml")
            .map(|_| ())
            .unwrap_err()
            .to_string();
        assert!(err.contains("max_stepz"), "{err}");
        assert!(err.contains("line 4"), "{err}");
        let text = "format_version = 1\nname = \"x\"\n[runtime]\nmax_steps = \"many\"\n";
        let err = Harness::from_toml(text, "h.toml")
            .map(|_| ())
            .unwrap_err()
            .to_string();
        assert!(err.contains("max_steps") || err.contains("line 4"), "{err}");
        let text = "format_version = 2\nname = \"x\"\n";
        let err = Harness::from_toml(text, "h.toml")
            .map(|_| ())
            .unwrap_err()
            .to_string();
        assert!(err.contains("format_version"), "{err}");
    }
}
