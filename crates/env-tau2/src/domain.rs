//! The two domains: their embedded data (database, tasks, splits, policy,
//! tool schemas), parsed once and shared, and the database of an episode.

use std::sync::Arc;

use indexmap::IndexMap;
use lifeharness_core::ToolSpec;
use serde_json::Value;

use crate::Tau2Error;
use crate::airline::model::FlightDb;
use crate::hash_cache::HashCache;
use crate::pyjson::{self, PyDump, PyWriter};
use crate::retail::model::RetailDb;
use crate::task::{InitialState, Tau2Task};
use crate::text::Text;

/// A τ²-bench domain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Domain {
    /// Online retail: orders, exchanges, returns.
    Retail,
    /// Airline: reservations, changes, cancellations.
    Airline,
}

impl Domain {
    /// The original's domain name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Retail => "retail",
            Self::Airline => "airline",
        }
    }

    /// The environment name used by lifeharness (`tau2-retail`, `tau2-airline`).
    pub fn env_name(self) -> &'static str {
        match self {
            Self::Retail => "tau2-retail",
            Self::Airline => "tau2-airline",
        }
    }

    /// The domain of an environment name (`tau2-retail`, `retail`, ...).
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "tau2-retail" | "retail" => Some(Self::Retail),
            "tau2-airline" | "airline" => Some(Self::Airline),
            _ => None,
        }
    }

    /// Whether the embedded database is the upstream file (retail) or a
    /// reconstruction (airline; see `data/README.md`).
    pub fn upstream_db(self) -> bool {
        matches!(self, Self::Retail)
    }

    fn files(self) -> DomainFiles {
        match self {
            Self::Retail => DomainFiles {
                db: include_str!("../data/retail/db.json"),
                tasks: include_str!("../data/retail/tasks.json"),
                splits: include_str!("../data/retail/split_tasks.json"),
                policy: include_str!("../data/retail/policy.md"),
                tools: include_str!("../data/retail/tools.json"),
            },
            Self::Airline => DomainFiles {
                db: include_str!("../data/airline/db.json"),
                tasks: include_str!("../data/airline/tasks.json"),
                splits: include_str!("../data/airline/split_tasks.json"),
                policy: include_str!("../data/airline/policy.md"),
                tools: include_str!("../data/airline/tools.json"),
            },
        }
    }
}

struct DomainFiles {
    db: &'static str,
    tasks: &'static str,
    splits: &'static str,
    policy: &'static str,
    tools: &'static str,
}

/// An episode's database.
#[derive(Debug, Clone, PartialEq)]
pub enum Db {
    /// Retail.
    Retail(RetailDb),
    /// Airline.
    Airline(FlightDb),
}

/// The result of one tool call, as the original's `get_response` gives it.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolResult {
    /// The tool message content.
    pub content: Text,
    /// Whether the tool raised.
    pub is_error: bool,
}

impl Db {
    /// Calls tool `name` (the original's `get_response`): the result text,
    /// or `Error: <exception text>`.
    pub fn call(&mut self, name: &str, args: &Value) -> ToolResult {
        let out = match self {
            Self::Retail(db) => db.call(name, args),
            Self::Airline(db) => db.call(name, args),
        };
        match out {
            Some(Ok(content)) => ToolResult {
                content,
                is_error: false,
            },
            Some(Err(message)) => ToolResult {
                content: Text::Owned(format!("Error: {message}")),
                is_error: true,
            },
            None => ToolResult {
                content: Text::Owned(format!("Error: Tool '{name}' not found.")),
                is_error: true,
            },
        }
    }

    /// The original's `get_db_hash()`, computed from scratch (see
    /// [`DomainData::db_hash`] for the incremental one).
    pub fn hash(&self) -> String {
        crate::db::db_hash(self)
    }

    /// Computes the tool-result text of every record and the look-up
    /// indexes now, so episodes share them (see [`crate::table::Table::text`]
    /// and [`crate::table::Table::base_index`]).
    pub fn prime_dumps(&self) {
        match self {
            Self::Retail(db) => {
                db.products.prime_dumps();
                db.users.prime_dumps();
                db.orders.prime_dumps();
                db.prime_index();
            }
            Self::Airline(db) => {
                db.flights.prime_dumps();
                db.users.prime_dumps();
                db.reservations.prime_dumps();
                db.prime_index();
            }
        }
    }

    /// The database as JSON (the `model_dump`), for read-only views.
    pub fn to_value(&self) -> Value {
        serde_json::from_str(&pyjson::dumps(self)).unwrap_or(Value::Null)
    }

    /// `update_db`: deep-merges `update` into the dump and re-validates.
    pub fn merge(&mut self, update: &Value) -> Result<(), String> {
        let mut value = self.to_value();
        deep_merge(&mut value, update);
        *self = match self {
            Self::Retail(_) => {
                Self::Retail(serde_json::from_value(value).map_err(|e| e.to_string())?)
            }
            Self::Airline(_) => {
                Self::Airline(serde_json::from_value(value).map_err(|e| e.to_string())?)
            }
        };
        Ok(())
    }

    /// Applies a task's `initial_state`.
    pub fn apply_initial_state(&mut self, state: Option<&InitialState>) -> Result<(), String> {
        let Some(state) = state else { return Ok(()) };
        if let Some(data) = state
            .initialization_data
            .as_ref()
            .and_then(|d| d.agent_data.as_ref())
        {
            self.merge(data)?;
        }
        for action in state.initialization_actions.iter().flatten() {
            if action.env_type != "assistant" {
                return Err(format!("no user environment for '{}'", action.func_name));
            }
            let result = self.call(&action.func_name, &Value::Object(action.arguments.clone()));
            if result.is_error {
                return Err(format!("initialization action failed: {}", result.content));
            }
        }
        if state
            .message_history
            .as_ref()
            .is_some_and(|h| !h.is_empty())
        {
            return Err("initial message_history is not supported".to_string());
        }
        Ok(())
    }
}

impl PyDump for Db {
    fn dump(&self, w: &mut PyWriter) {
        match self {
            Self::Retail(db) => db.dump(w),
            Self::Airline(db) => db.dump(w),
        }
    }
}

/// addict's `Dict.update`: nested objects merge, everything else replaces.
fn deep_merge(target: &mut Value, update: &Value) {
    match (target, update) {
        (Value::Object(t), Value::Object(u)) => {
            for (key, value) in u {
                match t.get_mut(key) {
                    Some(existing) if existing.is_object() && value.is_object() => {
                        deep_merge(existing, value);
                    }
                    _ => {
                        t.insert(key.clone(), value.clone());
                    }
                }
            }
        }
        (target, update) => *target = update.clone(),
    }
}

/// Everything a domain needs, parsed once per factory and shared.
#[derive(Debug)]
pub struct DomainData {
    /// The domain.
    pub domain: Domain,
    /// The initial database.
    pub db: Db,
    /// Its hash.
    pub initial_hash: String,
    /// Its sorted dump and hash states, for hashing episodes' databases
    /// incrementally ([`DomainData::db_hash`]).
    pub hashes: HashCache,
    /// The tasks, in file order, with their raw JSON.
    pub tasks: Vec<(Tau2Task, Value)>,
    /// Split name -> task ids.
    pub splits: IndexMap<String, Vec<String>>,
    /// The domain policy (markdown).
    pub policy: String,
    /// The agent's tools, in the original's order.
    pub tools: Vec<ToolSpec>,
}

impl DomainData {
    /// Parses the embedded data of `domain`.
    pub fn load(domain: Domain) -> Result<Arc<Self>, Tau2Error> {
        let files = domain.files();
        let bad = |what: &str, e: &dyn std::fmt::Display| {
            Tau2Error::Data(format!("{} {what}: {e}", domain.name()))
        };
        let db = match domain {
            Domain::Retail => {
                Db::Retail(serde_json::from_str(files.db).map_err(|e| bad("db.json", &e))?)
            }
            Domain::Airline => {
                Db::Airline(serde_json::from_str(files.db).map_err(|e| bad("db.json", &e))?)
            }
        };
        let raw_tasks: Vec<Value> =
            serde_json::from_str(files.tasks).map_err(|e| bad("tasks.json", &e))?;
        let mut tasks = Vec::with_capacity(raw_tasks.len());
        for raw in raw_tasks {
            let task: Tau2Task =
                serde_json::from_value(raw.clone()).map_err(|e| bad("tasks.json", &e))?;
            tasks.push((task, raw));
        }
        let splits = serde_json::from_str(files.splits).map_err(|e| bad("split_tasks.json", &e))?;
        let tool_values: Vec<Value> =
            serde_json::from_str(files.tools).map_err(|e| bad("tools.json", &e))?;
        let tools = tool_values
            .iter()
            .map(ToolSpec::from_openai)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| bad("tools.json", &e))?;
        db.prime_dumps();
        let hashes = HashCache::build(&db);
        let initial_hash = hashes.initial_hash().to_string();
        Ok(Arc::new(Self {
            domain,
            db,
            initial_hash,
            hashes,
            tasks,
            splits,
            policy: files.policy.to_string(),
            tools,
        }))
    }

    /// The original's `get_db_hash()` of `db` (an episode's database),
    /// equal to [`Db::hash`] but re-serialising only the records that
    /// differ from the initial database's.
    pub fn db_hash(&self, db: &Db) -> String {
        self.hashes.hash(db)
    }

    /// A task by id.
    pub fn task(&self, id: &str) -> Option<&(Tau2Task, Value)> {
        self.tasks.iter().find(|(t, _)| t.id == id)
    }

    /// A core task as a τ² task: the embedded one when the task carries no
    /// data of its own, else its data parsed.
    pub fn parse_task(
        &self,
        task: &lifeharness_core::Task,
    ) -> Result<Tau2Task, lifeharness_core::EnvError> {
        match self.task(&task.id) {
            Some((t, _)) if task.data.is_null() => Ok(t.clone()),
            _ => serde_json::from_value(task.data.clone())
                .map_err(|e| lifeharness_core::EnvError::BadTask(format!("task {}: {e}", task.id))),
        }
    }
}
