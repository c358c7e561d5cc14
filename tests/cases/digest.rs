//! Digest authentication end to end: `sipkit send` answers a 401 or 407 from the loopback UAS,
//! which checks the answer with `proto::digest::verify`, for every algorithm of RFC 8760.

use crate::support::uas::{Config, Uas};
use crate::support::{json_lines, sipkit, stdout_of, tempdir, write};
use sipkit::proto::digest::Algorithm;

fn challenging(challenge: Vec<Algorithm>) -> Uas {
    Uas::start(Config {
        challenge,
        ..Config::default()
    })
}

#[test]
fn every_algorithm_is_answered_once_and_accepted() {
    let dir = tempdir();
    let pw = write(dir.path(), "pw", "secret\n");
    for alg in Algorithm::ALL {
        let uas = challenging(vec![alg]);
        let out = sipkit()
            .args(["send", "REGISTER", &uas.udp_target(), "--user", "alice"])
            .arg("--password-file")
            .arg(&pw)
            .output()
            .expect("runs");
        let text = stdout_of(&out);
        assert_eq!(out.status.code(), Some(0), "{alg}: {text}");
        assert!(
            text.contains(&format!(
                "authenticating as alice for 401: {alg}, realm \"sipkit.test\""
            )),
            "{alg}: {text}"
        );
        let got = uas.received();
        assert_eq!(got.len(), 2, "{alg}");
        let retry = got[1].text();
        assert!(
            retry.contains("Authorization: Digest username=\"alice\""),
            "{retry}"
        );
        assert!(retry.contains(&format!("algorithm={alg}")), "{retry}");
        // A new transaction with the next CSeq (RFC 3261 §22.2).
        assert!(retry.contains("CSeq: 2 REGISTER\r\n"), "{retry}");
        assert_ne!(got[0].bytes, got[1].bytes);
    }
}

#[test]
fn the_strongest_offered_is_chosen_unless_forced() {
    let uas = challenging(vec![
        Algorithm::Md5,
        Algorithm::Sha512_256,
        Algorithm::Sha256,
    ]);
    let envs = [("SIPKIT_PASSWORD", "secret")];
    sipkit()
        .envs(envs)
        .args(["send", &uas.udp_target(), "--user", "alice"])
        .assert()
        .code(0);
    assert!(uas.received()[1].text().contains("algorithm=SHA-512-256,"));
    sipkit()
        .envs(envs)
        .args([
            "send",
            &uas.udp_target(),
            "--user",
            "alice",
            "--auth-alg",
            "MD5",
        ])
        .assert()
        .code(0);
    assert!(uas.received()[3].text().contains("algorithm=MD5,"));
}

#[test]
fn proxy_challenge_over_tcp_with_ha1() {
    let uas = Uas::start(Config {
        challenge: vec![Algorithm::Sha256],
        proxy: true,
        qop: "auth-int".into(),
        ..Config::default()
    });
    let ha1 = Algorithm::Sha256.hash(b"alice:sipkit.test:secret");
    let out = sipkit()
        .args(["send", "--text", "hi", &uas.tcp_target()])
        .args(["--user", "alice", "--ha1", &ha1])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(0), "{}", stdout_of(&out));
    let retry = uas.received()[1].text();
    assert!(retry.contains("Proxy-Authorization: Digest "), "{retry}");
    assert!(retry.contains("qop=auth-int"), "{retry}");
}

#[test]
fn wrong_password_is_refused_and_not_retried_forever() {
    let uas = challenging(vec![Algorithm::Sha256]);
    let out = sipkit()
        .env("SIPKIT_PASSWORD", "wrong")
        .args(["send", &uas.udp_target(), "--user", "alice"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout_of(&out).contains("< SIP/2.0 403 Forbidden"));
    assert_eq!(uas.received().len(), 2);
}

#[test]
fn the_same_challenge_again_is_not_answered_twice() {
    let uas = Uas::start(Config {
        challenge: vec![Algorithm::Md5],
        rechallenge: true,
        ..Config::default()
    });
    let out = sipkit()
        .env("SIPKIT_PASSWORD", "wrong")
        .args(["send", &uas.udp_target(), "--user", "alice"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(uas.received().len(), 2, "{}", stdout_of(&out));
}

#[test]
fn without_credentials_the_401_is_the_final_answer() {
    let uas = challenging(vec![Algorithm::Md5]);
    sipkit()
        .args(["send", &uas.udp_target()])
        .assert()
        .code(1)
        .stdout(predicates::str::contains("401 Unauthorized"));
    assert_eq!(uas.received().len(), 1);
}

#[test]
fn json_lists_the_auth_round() {
    let uas = challenging(vec![Algorithm::Sha256Sess]);
    let out = sipkit()
        .env("SIPKIT_PASSWORD", "secret")
        .args([
            "send",
            &uas.udp_target(),
            "--user",
            "alice",
            "--format",
            "json",
        ])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(0));
    let doc = &json_lines(&out)[0];
    assert_eq!(doc["auth"][0]["status"], 401);
    assert_eq!(doc["auth"][0]["algorithm"], "SHA-256-sess");
    assert_eq!(doc["auth"][0]["qop"], "auth");
    assert_eq!(doc["messages"].as_array().expect("array").len(), 4);
}

#[test]
fn an_ha1_of_the_wrong_length_for_the_forced_algorithm_is_a_usage_error() {
    let uas = Uas::ok().allow_unused();
    let md5_ha1 = Algorithm::Md5.hash(b"alice:sipkit.test:secret");
    sipkit()
        .args([
            "send",
            &uas.udp_target(),
            "--user",
            "alice",
            "--ha1",
            &md5_ha1,
        ])
        .args(["--auth-alg", "SHA-256"])
        .assert()
        .code(2);
}

/// Issue 15: a 401/407 that ends the run says whether credentials were missing or were
/// sent and challenged again (rejected).
#[test]
fn issue_15_a_final_401_says_whether_credentials_were_missing_or_rejected() {
    let uas = challenging(vec![Algorithm::Md5]);
    let out = sipkit()
        .args(["send", &uas.udp_target()])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    let text = stdout_of(&out);
    assert!(
        text.contains("none were given") && text.contains("--user"),
        "{text}"
    );

    let uas = Uas::start(Config {
        challenge: vec![Algorithm::Md5],
        rechallenge: true,
        ..Config::default()
    });
    let out = sipkit()
        .env("SIPKIT_PASSWORD", "wrong")
        .args(["send", &uas.udp_target(), "--user", "alice"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    let text = stdout_of(&out);
    assert!(
        text.contains("credentials of alice") && text.contains("were rejected"),
        "{text}"
    );
    assert!(!text.contains("none were given"), "{text}");
}
