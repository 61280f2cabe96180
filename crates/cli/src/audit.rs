//! `lifeharness audit`: a harness's contract, realization and regulation
//! over reference solutions, stored runs or trajectory files, each episode
//! replayed through its environment so rules see the state (see
//! `lifeharness_diagnose::audit`). A sound harness blocks nothing in a
//! successful episode.

use std::sync::Arc;

use anyhow::{Context, Result, bail};
use lifeharness_diagnose::import::{self, Format, ImportOptions};
use lifeharness_diagnose::{Auditor, DiagnoseError, Recorded};
use lifeharness_rules::Harness;
use serde_json::json;

use crate::cli::AuditArgs;
use crate::diagnose::{env_of, load_runs, open_store};
use crate::registry::Factories;

/// Runs `lifeharness audit`.
pub async fn audit(args: AuditArgs) -> Result<()> {
    let compiled = Arc::new(Harness::load_compiled(&args.harness)?);
    let mut auditor = Auditor::new(compiled);
    let factories = Factories::default();
    let mode;
    if args.gold {
        let env = args.env.as_deref().context("--gold needs --env")?;
        let factory = factories.get(env)?;
        let tasks = factory.tasks(&args.split)?;
        for task in &tasks {
            let Some(reference) = factory.reference_actions(task)? else {
                bail!(
                    "environment '{env}' has no reference actions to audit (its tasks are checked by scripts)"
                );
            };
            auditor
                .audit(factory.as_ref(), &Recorded::reference(task, reference))
                .await?;
        }
        mode = json!({"mode": "gold", "environment": env, "split": args.split});
    } else {
        let trajectories = match (&args.trajectories, &args.run) {
            (Some(path), _) => {
                let options = ImportOptions {
                    env: args.env.clone(),
                    skip_unmapped: args.skip_unmapped,
                };
                let lookup = |name: &str| {
                    factories
                        .get(name)
                        .map_err(|e| DiagnoseError::Input(e.to_string()))
                };
                let format = Format::parse(&args.format)?;
                import::import_path(path, format, &options, &lookup)?.trajectories
            }
            (None, Some(run)) => load_runs(&open_store(&args.out)?, std::slice::from_ref(run))?,
            (None, None) => {
                bail!("say what to audit: --gold (with --env), --run RUN_ID or --trajectories FILE")
            }
        };
        // `--split` keeps the episodes of that split's tasks (e.g. audit an
        // evolved harness on test tasks only).
        let mut kept: Option<std::collections::BTreeSet<String>> = None;
        if args.split != "all" {
            let mut ids = std::collections::BTreeSet::new();
            for t in &trajectories {
                let factory = factories.get(env_of(t))?;
                ids.extend(factory.tasks(&args.split)?.into_iter().map(|t| t.id));
            }
            kept = Some(ids);
        }
        for t in &trajectories {
            if kept
                .as_ref()
                .is_some_and(|ids| !ids.contains(&t.header.task.id))
            {
                continue;
            }
            let factory = factories.get(env_of(t))?;
            auditor
                .audit(factory.as_ref(), &Recorded::from_trajectory(t))
                .await?;
        }
        mode = match (&args.trajectories, &args.run) {
            (Some(path), _) => json!({"mode": "trajectories", "file": path.display().to_string()}),
            _ => json!({"mode": "run", "run": args.run}),
        };
    }
    let report = auditor.finish();
    if args.json {
        let mut value = report.json();
        if let Some(map) = value.as_object_mut() {
            map.insert("source".into(), mode);
        }
        println!("{value}");
    } else {
        print!("{}", report.text());
    }
    Ok(())
}
