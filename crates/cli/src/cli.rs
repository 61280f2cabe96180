//! The command-line interface (clap derive).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

const EXAMPLES: &str = "\
Examples:
  lifeharness run --env toy --split test --model scripted:examples/toy-script.json
  lifeharness run --env toy --limit 5 --model scripted:examples/toy-script.json --harness harnesses/null.toml
  lifeharness run --resume run-20261121-140000-ab12 --out lifeharness.db
  lifeharness runs list
  lifeharness runs show run-20261121-140000-ab12
  lifeharness runs show run-20261121-140000-ab12 --episode toy-1/0
  lifeharness runs export run-20261121-140000-ab12 -o run.jsonl
  lifeharness harness schema > harness.schema.json";

/// lifeharness: adapt the interface, not the model.
///
/// Runs frozen LLM agents on deterministic tool-use environments through a
/// four-layer harness (contract, skills, action realization, trajectory
/// regulation) and records every step.
#[derive(Debug, Parser)]
#[command(name = "lifeharness", version, after_help = EXAMPLES)]
pub struct Cli {
    /// More logging on stderr (-v info, -vv debug). RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run episodes of an environment's tasks with a model, under a harness.
    Run(RunArgs),
    /// Play the same tasks without and with a harness and show what changed.
    Compare(CompareArgs),
    /// Inspect, export and import recorded runs.
    #[command(subcommand)]
    Runs(RunsCommand),
    /// Harness files: JSON schema, validation, display.
    #[command(subcommand)]
    Harness(HarnessCommand),
    /// List the environments and their splits.
    Envs,
    /// Replay reference (gold) solutions or given actions through an environment.
    Replay(ReplayArgs),
    /// What a harness would block or nudge on gold actions or recorded
    /// trajectories, replayed with the environment's state.
    Audit(AuditArgs),
    /// Label every failed episode of runs with its bottleneck, first critical step and evidence.
    Diagnose(DiagnoseArgs),
    /// Evolve a harness from training trajectories: miners propose rules,
    /// a regression gate accepts only what it proves.
    Evolve(Box<EvolveArgs>),
    /// Evaluate models x environments x harnesses (null, hand-written,
    /// evolved; optional layer ablations) into one store, resumably, and
    /// print the report command.
    Matrix(Box<MatrixArgs>),
    /// Report on a matrix or runs: success with intervals, improvement over
    /// the null harness, transfer, ablations, failure mix; HTML, Markdown, JSON.
    Report(ReportArgs),
    /// Embedded models: list them, fetch them.
    #[command(subcommand)]
    Models(ModelsCommand),
    /// Send one message to a model and print its turn (a quick check).
    Chat(ChatArgs),
    /// Serve a model as an OpenAI-compatible API (/v1/chat/completions, /v1/models).
    Serve(ServeArgs),
}

fn parse_on_off(text: &str) -> Result<bool, String> {
    match text {
        "on" | "true" | "1" => Ok(true),
        "off" | "false" | "0" => Ok(false),
        other => Err(format!("expected on or off, got '{other}'")),
    }
}

/// `lifeharness evolve`.
#[derive(Debug, Clone, Args, serde::Serialize, serde::Deserialize)]
#[command(after_help = "Examples:
  lifeharness evolve --env agentbench-db --split dev --model embedded:gemma3-270m --rounds 2 --out harnesses/evolved/agentbench-db.toml
  lifeharness evolve --env tau2-airline --trajectories logs.json --offline --out evolved.toml
  lifeharness evolve --env tau2-retail --run RUN_ID --offline --out evolved.toml
  lifeharness evolve --resume evo-20261203-120000-ab12")]
pub struct EvolveArgs {
    /// Environment name.
    #[arg(long, required_unless_present = "resume")]
    pub env: Option<String>,
    /// The split to learn from (never a held-out test split).
    #[arg(long, default_value = "train")]
    pub split: String,
    /// Only these train task ids (comma-separated).
    #[arg(long, value_delimiter = ',')]
    pub tasks: Vec<String>,
    /// Only the first N tasks of the split.
    #[arg(long)]
    pub limit: Option<usize>,
    /// The source model (re-run by the gate; its spec goes into the lineage).
    #[arg(long)]
    pub model: Option<String>,
    /// The harness to start from (default: the null harness).
    #[arg(long)]
    pub from: Option<PathBuf>,
    /// Learn from recorded trajectories (tau2 / tau-bench / lifeharness JSONL;
    /// repeatable) instead of a baseline run.
    #[arg(long)]
    pub trajectories: Vec<PathBuf>,
    /// Format of --trajectories.
    #[arg(long, default_value = "auto")]
    pub format: String,
    /// Learn from stored runs (repeatable).
    #[arg(long = "run")]
    pub runs: Vec<String>,
    /// Drop recorded episodes of tasks outside the split instead of refusing them.
    #[arg(long)]
    pub split_only: bool,
    /// No model re-runs: accept what passes the offline gate (a)-(c).
    #[arg(long)]
    pub offline: bool,
    /// Also ask this model (any spec) for harness patches.
    #[arg(long)]
    pub proposer: Option<String>,
    /// Rounds at most (an offline evolution has one: its episodes do not change).
    #[arg(long, default_value_t = 3)]
    pub rounds: u32,
    /// Trials per task in re-runs (more trials measure the noise a lost task may be).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    pub trials: u32,
    /// Counterfactual variants per id-like argument of each reference write.
    #[arg(long, default_value_t = 2)]
    pub counterfactuals: usize,
    /// Untargeted tasks re-run beside the targeted ones.
    #[arg(long, default_value_t = 5)]
    pub sentinels: usize,
    /// Run seed.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Episodes played at once.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..))]
    pub concurrency: u16,
    /// Most model turns per episode (as for `run`).
    #[arg(long)]
    pub max_steps: Option<usize>,
    /// Model spec of the simulated user (tau2; ticket mode without it).
    #[arg(long)]
    pub user_model: Option<String>,
    /// Where to write the evolved harness (the ledger goes beside it as .ledger.md and .ledger.json).
    #[arg(long, required_unless_present = "resume")]
    pub out: Option<PathBuf>,
    /// Trajectory store (runs, and the evolution's ledger).
    #[arg(long, default_value = "lifeharness.db")]
    pub store: PathBuf,
    /// Continue an interrupted evolution (same store): finished re-runs are reused.
    #[arg(long)]
    #[serde(skip)]
    pub resume: Option<String>,
}

/// `lifeharness run`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  lifeharness run --env toy --split test --model scripted:examples/toy-script.json
  lifeharness run --resume RUN_ID")]
pub struct RunArgs {
    /// Environment name (see `lifeharness envs`).
    #[arg(long, required_unless_present = "resume")]
    pub env: Option<String>,
    /// Task split.
    #[arg(long, default_value = "test")]
    pub split: String,
    /// Only these task ids (comma-separated).
    #[arg(long, value_delimiter = ',')]
    pub tasks: Vec<String>,
    /// Only the first N tasks of the selection.
    #[arg(long)]
    pub limit: Option<usize>,
    /// Model spec: `embedded:smollm2-135m` (default embedded model, fetched on
    /// first use), `embedded:gemma3-270m`, `gguf:/path.gguf`,
    /// `openai:<model>@<base-url>`, `scripted:<file.json>`.
    #[arg(long, required_unless_present = "resume")]
    pub model: Option<String>,
    /// Model spec of the simulated user (tau2); without it tau2 runs in ticket
    /// mode, whose scores are not comparable with published ones.
    #[arg(long)]
    pub user_model: Option<String>,
    /// Model spec of the judge for tau2 NL assertions (not evaluated without one).
    #[arg(long)]
    pub judge: Option<String>,
    /// Harness file (TOML); the null harness when absent.
    #[arg(long)]
    pub harness: Option<PathBuf>,
    /// Trajectory store (SQLite).
    #[arg(long, default_value = "lifeharness.db")]
    pub out: PathBuf,
    /// Episodes played at once.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..))]
    pub concurrency: u16,
    /// Run seed (episode seeds derive from it, the task id and the trial).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Trials per task.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    pub trials: u32,
    /// Most model turns per episode (default: the harness file's budget,
    /// capped by the benchmark's own round limit where it has one, e.g.
    /// AgentBench DB 5 and OS 8).
    #[arg(long)]
    pub max_steps: Option<usize>,
    /// Continue an interrupted run (same store) without redoing finished episodes.
    #[arg(long, conflicts_with_all = ["env", "model", "harness", "tasks", "limit", "user_model", "judge", "constrained"])]
    pub resume: Option<String>,
    /// Print the run summary as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// Schema-constrained tool calls at decoding time, on or off, whatever
    /// the harness says (default: the harness's realization layer decides).
    /// Recorded with the run.
    #[arg(long, value_parser = parse_on_off)]
    pub constrained: Option<bool>,
    /// With constrained decoding, build each turn's grammar from the
    /// harness too (grounded ids, ordering, contract constraints); `off`
    /// leaves the schema-only grammar (default: the harness's
    /// `realization.guided_decoding`, on unless it says otherwise).
    #[arg(long, value_parser = parse_on_off)]
    pub guided: Option<bool>,
    /// Test aid: wait this long before each model turn (for crash-recovery tests).
    #[arg(long, hide = true, default_value_t = 0)]
    pub model_delay_ms: u64,
}

/// `lifeharness compare`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  lifeharness compare --env tau2-airline --limit 3 --model embedded:smollm2-135m --harness harnesses/tau2-airline.toml
  lifeharness compare --env toy --limit 5 --model scripted:examples/toy-script.json --harness examples/toy-harness.toml")]
pub struct CompareArgs {
    /// Environment name (see `lifeharness envs`).
    #[arg(long)]
    pub env: String,
    /// Task split.
    #[arg(long, default_value = "test")]
    pub split: String,
    /// Only these task ids (comma-separated).
    #[arg(long, value_delimiter = ',')]
    pub tasks: Vec<String>,
    /// Only the first N tasks of the selection.
    #[arg(long)]
    pub limit: Option<usize>,
    /// Model spec (as for `run`).
    #[arg(long)]
    pub model: String,
    /// The harness to compare with the baseline (repeat for several).
    #[arg(long, required = true)]
    pub harness: Vec<PathBuf>,
    /// The baseline harness (default: the null harness, no layers).
    #[arg(long)]
    pub baseline: Option<PathBuf>,
    /// Trajectory store (SQLite).
    #[arg(long, default_value = "lifeharness.db")]
    pub out: PathBuf,
    /// Episodes played at once.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..))]
    pub concurrency: u16,
    /// Run seed.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Trials per task.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    pub trials: u32,
    /// Most model turns per episode (as for `run`).
    #[arg(long)]
    pub max_steps: Option<usize>,
    /// Schema-constrained tool calls on or off for every side (default: each harness decides).
    #[arg(long, value_parser = parse_on_off)]
    pub constrained: Option<bool>,
    /// Harness-guided grammars on or off for every side (as for `run`).
    #[arg(long, value_parser = parse_on_off)]
    pub guided: Option<bool>,
    /// Print the comparison as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

/// `lifeharness replay`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  lifeharness replay --env tau2-retail --split test --gold --json
  lifeharness replay --env tau2-airline --actions-file actions.jsonl --json
  lifeharness replay --env agentbench-db --split dev --gold --json
  lifeharness replay --env agentbench-os --split dev --gold --json")]
pub struct ReplayArgs {
    /// Environment name.
    #[arg(long)]
    pub env: String,
    /// Task split.
    #[arg(long, default_value = "all")]
    pub split: String,
    /// Replay each task's reference solution.
    #[arg(long, required_unless_present = "actions_file")]
    pub gold: bool,
    /// Model spec of the judge for tau2 NL assertions (not evaluated without one).
    #[arg(long)]
    pub judge: Option<String>,
    /// Replay these actions instead: JSONL of {task_id, actions:[{name, arguments}]}.
    #[arg(long, conflicts_with = "gold")]
    pub actions_file: Option<PathBuf>,
    /// One JSON object per task on stdout (otherwise a summary table).
    #[arg(long)]
    pub json: bool,
}

/// `lifeharness audit`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  lifeharness audit --harness harnesses/tau2-retail.toml --gold --env tau2-retail --json
  lifeharness audit --harness harnesses/tau2-retail.toml --trajectories run.jsonl --env tau2-retail
  lifeharness audit --harness harnesses/tau2-retail.toml --trajectories tau2_results.json --env tau2-retail")]
pub struct AuditArgs {
    /// The harness file.
    #[arg(long)]
    pub harness: PathBuf,
    /// Replay every gold action of every task of --env (and --split).
    #[arg(long)]
    pub gold: bool,
    /// Recorded trajectories: lifeharness JSONL (`runs export`), a tau2-bench
    /// results file or directory, or a tau-bench trajectory file.
    #[arg(long, conflicts_with_all = ["gold", "run"])]
    pub trajectories: Option<PathBuf>,
    /// The format of --trajectories: auto, lifeharness, tau2, tau-bench.
    #[arg(long, default_value = "auto")]
    pub format: String,
    /// Audit the episodes of a stored run.
    #[arg(long, conflicts_with = "gold")]
    pub run: Option<String>,
    /// Trajectory store (with --run).
    #[arg(long, default_value = "lifeharness.db")]
    pub out: PathBuf,
    /// The environment (required with --gold; for tau-bench files, which do not name it).
    #[arg(long)]
    pub env: Option<String>,
    /// Task split: with --gold, whose gold actions; with --run or --trajectories, only the episodes of its tasks.
    #[arg(long, default_value = "all")]
    pub split: String,
    /// Skip tau-bench records whose task matches none of ours (else the file is refused).
    #[arg(long)]
    pub skip_unmapped: bool,
    /// Compact JSON on one line.
    #[arg(long)]
    pub json: bool,
}

/// `lifeharness diagnose`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  lifeharness diagnose run-20261121-140000-ab12
  lifeharness diagnose RUN_A RUN_B --md diagnosis.md
  lifeharness diagnose RUN --judge openai:gpt-4o-mini@https://api.openai.com/v1 --json
  lifeharness runs import gpt-4o-airline.json && lifeharness diagnose import-1a2b3c4d5e6f")]
pub struct DiagnoseArgs {
    /// The runs (imported runs too).
    #[arg(required = true)]
    pub run_ids: Vec<String>,
    /// Trajectory store.
    #[arg(long, default_value = "lifeharness.db")]
    pub out: PathBuf,
    /// Also label each failed episode with this model (any model spec); its
    /// label and reason are shown beside the deterministic one, never instead.
    #[arg(long)]
    pub judge: Option<String>,
    /// Write the report as Markdown to this file.
    #[arg(long)]
    pub md: Option<PathBuf>,
    /// JSON on stdout (every episode's diagnosis and the per-environment report).
    #[arg(long)]
    pub json: bool,
    /// List every failed episode in the text report.
    #[arg(long)]
    pub episodes: bool,
}

/// `lifeharness models ...`.
#[derive(Debug, Subcommand)]
pub enum ModelsCommand {
    /// The embedded models and whether they are cached.
    List {
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Fetch an embedded model into the cache (checked by sha256).
    Pull {
        /// The model name, e.g. `smollm2-135m`.
        name: String,
    },
}

/// `lifeharness chat`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  lifeharness chat --model embedded:smollm2-135m \"Say hello\"
  lifeharness chat --model openai:llama3@http://127.0.0.1:11434/v1 \"Say hello\"")]
pub struct ChatArgs {
    /// Model spec: `embedded:smollm2-135m`, `embedded:gemma3-270m`, `gguf:/path.gguf`,
    /// `openai:<model>@<base-url>`, `scripted:<file.json>`.
    #[arg(long, default_value = "embedded:smollm2-135m")]
    pub model: String,
    /// The message.
    pub message: String,
}

/// `lifeharness serve`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  lifeharness serve --model embedded:smollm2-135m --listen 127.0.0.1:8080
  curl -s 127.0.0.1:8080/v1/models")]
pub struct ServeArgs {
    /// Model spec.
    #[arg(long, default_value = "embedded:smollm2-135m")]
    pub model: String,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: std::net::SocketAddr,
}

/// `lifeharness runs ...`.
#[derive(Debug, Subcommand)]
pub enum RunsCommand {
    /// List the runs in a store.
    List {
        /// Trajectory store.
        #[arg(long, default_value = "lifeharness.db")]
        out: PathBuf,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Show a run's episodes, or one episode's trajectory.
    Show {
        /// The run id.
        run_id: String,
        /// Show this episode's full trajectory (JSON).
        #[arg(long)]
        episode: Option<String>,
        /// Trajectory store.
        #[arg(long, default_value = "lifeharness.db")]
        out: PathBuf,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Export a run's trajectories as JSONL.
    Export {
        /// The run id.
        run_id: String,
        /// Output file (stdout when absent).
        #[arg(short, long)]
        output: Option<PathBuf>,
        /// Trajectory store.
        #[arg(long, default_value = "lifeharness.db")]
        out: PathBuf,
    },
    /// Import trajectories: our JSONL export, a tau2-bench results file (or
    /// directory), a tau-bench (v1) trajectory file, or another lifeharness
    /// store, e.g. one shard of a matrix: its runs, episodes, matrices and
    /// evolutions are merged (what this store already has is kept; a matrix
    /// cell naming two different runs refuses the merge). One transaction
    /// per file: everything is imported or nothing.
    Import {
        /// The file.
        file: PathBuf,
        /// auto, lifeharness, tau2, tau-bench or store (another lifeharness
        /// store, e.g. one shard of a matrix: its runs, episodes, matrices
        /// and evolutions are merged). auto recognizes a store by its SQLite
        /// header.
        #[arg(long, default_value = "auto")]
        format: String,
        /// The environment, for files that do not name it (tau-bench).
        #[arg(long)]
        env: Option<String>,
        /// Skip tau-bench records whose task matches none of ours (else the file is refused).
        #[arg(long)]
        skip_unmapped: bool,
        /// Trajectory store.
        #[arg(long, default_value = "lifeharness.db")]
        out: PathBuf,
    },
}

/// `lifeharness harness ...`.
#[derive(Debug, Subcommand)]
pub enum HarnessCommand {
    /// Print the harness file JSON schema.
    Schema,
    /// Check a harness file; prints its id (content hash).
    Validate {
        /// The file.
        file: PathBuf,
    },
    /// Print a harness file in canonical form with its id.
    Show {
        /// The file.
        file: PathBuf,
    },
    /// What changed between two harness files: settings, and rules by id.
    Diff {
        /// The old file.
        old: PathBuf,
        /// The new file.
        new: PathBuf,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
}

/// `lifeharness matrix`.
#[derive(Debug, Clone, Args)]
#[command(after_help = "Examples:
  lifeharness matrix --models embedded:smollm2-135m,embedded:gemma3-270m --envs agentbench-db,agentbench-os --shipped --limit 10 --out matrix.db
  lifeharness matrix --models openai:gpt-4o-mini@http://vllm:8000/v1 --envs tau2-retail --harness tau2-retail=harnesses/evolved/tau2-retail.toml --trials 4 --ablate
  lifeharness matrix ... --shard 3/8 --out shard-3.db     # one of 8 shards (0-based), e.g. a Kubernetes indexed Job or a Slurm array
  lifeharness runs import shard-3.db --out all.db         # merge the shards, then
  lifeharness report MATRIX_ID --out all.db --html report.html")]
pub struct MatrixArgs {
    /// Model specs, comma-separated.
    #[arg(long, value_delimiter = ',', required_unless_present = "resume")]
    pub models: Vec<String>,
    /// Environments, comma-separated.
    #[arg(long, value_delimiter = ',', required_unless_present = "resume")]
    pub envs: Vec<String>,
    /// A harness for one environment, as ENV=FILE (repeatable). The null
    /// harness is always a cell of its own: it is the baseline.
    #[arg(long = "harness", value_name = "ENV=FILE")]
    pub harnesses: Vec<String>,
    /// Also use the shipped harnesses of each environment: DIR/ENV.toml
    /// (hand-written) and DIR/evolved/ENV.toml, where they exist.
    #[arg(long)]
    pub shipped: bool,
    /// Where --shipped looks.
    #[arg(long, default_value = "harnesses")]
    pub harness_dir: PathBuf,
    /// The split, for every environment (SPLIT) or one (ENV=SPLIT);
    /// default: each environment's held-out evaluation split.
    #[arg(long, value_delimiter = ',')]
    pub split: Vec<String>,
    /// Only the first N tasks of each split.
    #[arg(long)]
    pub limit: Option<usize>,
    /// Trials per task (pass^k is reported for k up to this).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    pub trials: u32,
    /// Base seed.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Maximum model turns per episode (default: the harness's, capped by the benchmark's limit).
    #[arg(long)]
    pub max_steps: Option<usize>,
    /// Episodes at once within a cell.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..))]
    pub concurrency: u16,
    /// Cells at once per backend kind, as BACKEND=N (repeatable; default
    /// embedded=1, since embedded models share this machine's cores, and 4
    /// for any other backend).
    #[arg(long = "backend-limit", value_name = "BACKEND=N")]
    pub backend_limits: Vec<String>,
    /// Add each harness's layer ablations: each layer on alone, each layer off alone.
    #[arg(long)]
    pub ablate: bool,
    /// Override the harness's constrained decoding (on or off).
    #[arg(long, value_parser = parse_on_off)]
    pub constrained: Option<bool>,
    /// Override the harness's guided decoding (on or off; as for `run`).
    #[arg(long, value_parser = parse_on_off)]
    pub guided: Option<bool>,
    /// Add each harness's decoding variants: schema-only constrained
    /// decoding and unconstrained decoding, next to the harness as written
    /// (which should set `realization.constrained_decoding = true` for the
    /// guided side).
    #[arg(long)]
    pub decoding: bool,
    /// Run only shard I of N (0-based): cells are split deterministically,
    /// so shards can run anywhere, each into its own store.
    #[arg(long, value_name = "I/N")]
    pub shard: Option<String>,
    /// Continue a matrix from its stored configuration.
    #[arg(long, conflicts_with_all = ["models", "envs", "harnesses", "shipped", "split", "limit", "ablate", "decoding"])]
    pub resume: Option<String>,
    /// Print the cells (and shard assignment) and run nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Trajectory store.
    #[arg(long, default_value = "lifeharness.db")]
    pub out: PathBuf,
    /// Print the matrix id and its cells as JSON at the end.
    #[arg(long)]
    pub json: bool,
    /// Also write the report (as `lifeharness report` does) to this HTML file at the end.
    #[arg(long)]
    pub html: Option<PathBuf>,
    /// Also write the report as Markdown to this file at the end.
    #[arg(long)]
    pub md: Option<PathBuf>,
}

/// `lifeharness report`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  lifeharness report matrix-1a2b3c4d5e6f7a8b --out matrix.db --html report.html --md report.md --json report.json
  lifeharness report run-20261204-010000-ab12 run-20261204-020000-cd34 --out lifeharness.db")]
pub struct ReportArgs {
    /// Matrix ids and/or run ids (runs with the same model, environment,
    /// split and harness are one cell).
    #[arg(required = true)]
    pub ids: Vec<String>,
    /// Trajectory store.
    #[arg(long, default_value = "lifeharness.db")]
    pub out: PathBuf,
    /// Write the HTML page here.
    #[arg(long)]
    pub html: Option<PathBuf>,
    /// Write Markdown here.
    #[arg(long)]
    pub md: Option<PathBuf>,
    /// Write JSON here.
    #[arg(long)]
    pub json: Option<PathBuf>,
}
