//! Writing resolved values out: the config in place ([`yaml`]), env files ([`env_format`]),
//! and the atomic file writer ([`output`]).

pub mod env_format;
pub mod output;
pub mod yaml;
