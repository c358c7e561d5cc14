//! placeholder until the msrp module lands
