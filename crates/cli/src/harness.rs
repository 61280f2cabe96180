//! `lifeharness harness`: schema, validate, show.

use anyhow::Result;
use lifeharness_rules::Harness;

use crate::cli::HarnessCommand;

/// Runs `lifeharness harness ...`.
pub fn harness(command: HarnessCommand) -> Result<()> {
    match command {
        HarnessCommand::Schema => {
            println!("{}", serde_json::to_string_pretty(&Harness::json_schema())?);
        }
        HarnessCommand::Validate { file } => {
            let harness = Harness::load(&file)?;
            println!(
                "ok: {} ({}) id {}",
                file.display(),
                harness.name,
                harness.content_hash()
            );
        }
        HarnessCommand::Show { file } => {
            let harness = Harness::load_compiled(&file)?.harness;
            println!("# id {}", harness.content_hash());
            print!("{}", harness.to_toml()?);
        }
    }
    Ok(())
}
