//! The bundled scenarios, embedded in the binary (`scenarios/catalog/*.toml`).

/// (name, text) of every bundled scenario, sorted by name.
pub const CATALOG: &[(&str, &str)] = &[
    ("blair-2008", include_str!("../catalog/blair-2008.toml")),
    (
        "month-of-nights",
        include_str!("../catalog/month-of-nights.toml"),
    ),
];

pub fn catalog_names() -> Vec<&'static str> {
    CATALOG.iter().map(|(n, _)| *n).collect()
}

pub fn get(name: &str) -> Option<&'static str> {
    CATALOG.iter().find(|(n, _)| *n == name).map(|(_, t)| *t)
}
