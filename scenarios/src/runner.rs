//! The plan runner (being written).
