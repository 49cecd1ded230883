//! Writing resolved values out: the config in place ([`yaml`]) and env files ([`env_format`]).

pub mod env_format;
pub mod yaml;
