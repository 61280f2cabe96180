//! The `lifeharness` binary: parses arguments, sets up logging, dispatches.

mod audit;
mod cli;
mod compare;
mod diagnose;
mod evolve;
mod harness;
mod matrix;
mod models;
mod registry;
mod replay;
mod report;
mod run;
mod runs;
mod summary;

use std::process::ExitCode;

// mimalloc: the layers and environments allocate many small short-lived
// values per step; glibc's malloc made the per-step overhead ~1.5x higher.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use clap::Parser;
use cli::{Cli, Command};
use tracing_subscriber::EnvFilter;

fn init_tracing(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

/// `lifeharness ... | head` closes the pipe early: the printing macros then
/// panic. Exit quietly with the shell's code for SIGPIPE (141) instead, as
/// Unix tools do; every other panic keeps the default report.
fn quiet_broken_pipe() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let message = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied())
            .unwrap_or("");
        if message.starts_with("failed printing to stdout") && message.contains("Broken pipe") {
            std::process::exit(141);
        }
        default(info);
    }));
}

fn main() -> ExitCode {
    quiet_broken_pipe();
    let cli = Cli::parse();
    init_tracing(cli.verbose);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Run(args) => run::run(args).await,
            Command::Compare(args) => compare::compare(args).await,
            Command::Runs(command) => runs::runs(command),
            Command::Harness(command) => harness::harness(command),
            Command::Replay(args) => replay::replay(args).await,
            Command::Audit(args) => audit::audit(args).await,
            Command::Diagnose(args) => diagnose::run(args).await,
            Command::Evolve(args) => evolve::run(*args).await,
            Command::Matrix(args) => matrix::run(*args).await,
            Command::Report(args) => report::run(args),
            Command::Models(command) => models::models(command).await,
            Command::Chat(args) => models::chat(args).await,
            Command::Serve(args) => models::serve(args).await,
            Command::Envs => {
                for (name, about) in registry::ENVIRONMENTS {
                    println!("{name:<16} {about}");
                }
                Ok(())
            }
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            let chain: Vec<String> = err.chain().map(ToString::to_string).collect();
            eprintln!("error: {}", chain.join(": "));
            ExitCode::FAILURE
        }
    }
}
