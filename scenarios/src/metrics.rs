//! Per-run metrics (being written).
