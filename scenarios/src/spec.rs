//! TOML scenario files -> model::Scenario (being written).
