//! placeholder until the sdp module lands
