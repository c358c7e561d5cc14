//! SIP
