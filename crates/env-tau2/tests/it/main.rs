//! Integration tests of lifeharness-env-tau2: conformance against the
//! Python original (fixtures recorded with `tools/python_reference.py`),
//! the generic conformance suite, user modes and replays.

#[cfg(test)]
mod python;
#[cfg(test)]
mod scripted;
#[cfg(test)]
mod suite;
#[cfg(test)]
mod users;
