//! The one integration-test binary: every test runs the real `sipkit` executable. Cases live in
//! `tests/cases/`, shared helpers in `tests/support/`; one binary links and starts once, which
//! keeps `cargo test` fast on a small machine.

mod support;

mod cases {
    mod capture;
    mod color;
    mod conformance;
    mod decode_fidelity;
    mod decode_pcap;
    mod decode_pcap_calls_extract;
    mod digest;
    mod exit_codes;
    mod generated;
    mod interop_invite;
    mod interop_listen;
    mod interop_relay;
    mod interop_send;
    mod interop_tshark;
    mod invite;
    mod invite_relay;
    mod json;
    mod listen;
    mod listener;
    mod msrp_session;
    mod pipes;
    mod send;
    mod transport;
    mod validate;
    mod validate_findings;
}
