//! The retail domain: database models and tools.

mod lookup;
pub mod model;
mod tools;
