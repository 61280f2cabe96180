//! The airline domain: database models and tools.

mod args;
pub mod model;
mod search;
mod tools;

pub use tools::NOW;
