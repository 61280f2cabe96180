//! The retail domain: database models and tools.

pub mod model;
mod tools;
