//! `lifeharness models`, `chat` and `serve`.

use anyhow::{Context, Result};
use lifeharness_models::{PullOptions, list_models, models_dir, pull};
use lifeharness_proxy::{ProxyOptions, router};

use crate::cli::{ChatArgs, ModelsCommand, ServeArgs};
use crate::registry;

/// Runs `lifeharness models ...`.
pub async fn models(command: ModelsCommand) -> Result<()> {
    match command {
        ModelsCommand::List { json } => {
            let listing = list_models(&models_dir());
            if json {
                println!("{}", serde_json::to_string(&listing)?);
            } else {
                println!("models cache: {}", models_dir().display());
                for m in listing {
                    let cached = m.cached.map_or("not fetched".to_string(), |p| {
                        format!("cached at {}", p.display())
                    });
                    println!(
                        "{:<24} {} [{}] ({cached})",
                        m.spec, m.description, m.licence
                    );
                }
            }
        }
        ModelsCommand::Pull { name } => {
            let path = pull(&name, &PullOptions::default()).await?;
            println!("{}", path.display());
        }
    }
    Ok(())
}

/// Runs `lifeharness chat`.
pub async fn chat(args: ChatArgs) -> Result<()> {
    let turn = lifeharness_models::chat(&args.model, &args.message, &PullOptions::default())
        .await
        .with_context(|| format!("model '{}'", args.model))?;
    println!("{}", serde_json::to_string_pretty(&turn)?);
    Ok(())
}

/// Runs `lifeharness serve` until Ctrl-C.
pub async fn serve(args: ServeArgs) -> Result<()> {
    let model = registry::model(&args.model).await?;
    let app = router(model, ProxyOptions { model_id: None });
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    eprintln!(
        "serving {} on http://{}/v1 (Ctrl-C stops)",
        args.model, args.listen
    );
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .context("server failed")?;
    Ok(())
}
