//! The bundled scenarios, embedded in the binary: every `scenarios/catalog/*.toml`, listed by
//! the build script.

/// (name, text) of every bundled scenario, sorted by name.
pub const CATALOG: &[(&str, &str)] = include!(concat!(env!("OUT_DIR"), "/catalog.rs"));

pub fn catalog_names() -> Vec<&'static str> {
    CATALOG.iter().map(|(n, _)| *n).collect()
}

pub fn get(name: &str) -> Option<&'static str> {
    CATALOG.iter().find(|(n, _)| *n == name).map(|(_, t)| *t)
}
