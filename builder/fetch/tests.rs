//! Unit tests of `fetch`: mirror prefixes, retry waits and Retry-After, slow-download bounds, a mirror quoted without its password.
use super::*;

#[test]
fn longest_mirror_prefix_wins() {
    let m = vec![
        Mirror::parse("https://github.com/=http://m/gh/").unwrap(),
        Mirror::parse("https://github.com/containerd/=http://m/ctr/").unwrap(),
    ];
    let applied = |u: &str| apply_mirrors(&SecretUrl::new(u), &m).expose().to_string();
    assert_eq!(
        applied("https://github.com/containerd/containerd/x.tgz"),
        "http://m/ctr/containerd/x.tgz"
    );
    assert_eq!(
        applied("https://github.com/opencontainers/runc"),
        "http://m/gh/opencontainers/runc"
    );
    assert_eq!(applied("https://dl.k8s.io/x"), "https://dl.k8s.io/x");
    assert!(Mirror::parse("github=mirror").is_err());
}

#[test]
fn waits_grow_and_retry_after_is_capped() {
    assert_eq!(backoff(2, None), Duration::from_millis(500));
    assert_eq!(backoff(3, None), Duration::from_secs(1));
    assert_eq!(backoff(20, None), Duration::from_secs(8));
    assert_eq!(
        backoff(2, Some(Duration::from_secs(3))),
        Duration::from_secs(3)
    );
    assert_eq!(backoff(2, Some(Duration::from_secs(3600))), MAX_RETRY_WAIT);
    assert_eq!(parse_retry_after(" 120 "), Some(Duration::from_secs(120)));
    assert_eq!(
        parse_retry_after("Fri, 31 Dec 1999 23:59:59 GMT"),
        Some(Duration::ZERO)
    );
    assert_eq!(parse_retry_after("soon"), None);
}

#[test]
fn slow_downloads_fail_after_a_whole_window() {
    let limits = NetLimits {
        speed_limit: 1000,
        speed_time: Duration::from_millis(50),
        ..NetLimits::default()
    };
    let mut s = SpeedCheck::new(&limits);
    assert!(s.add(10).is_ok(), "a window has not passed yet");
    std::thread::sleep(Duration::from_millis(60));
    assert!(s.add(10).unwrap_err().contains("too slow"));
    let mut fast = SpeedCheck::new(&limits);
    std::thread::sleep(Duration::from_millis(60));
    assert!(fast.add(1_000_000).is_ok());
    let off = NetLimits {
        speed_limit: 0,
        ..limits
    };
    let mut s = SpeedCheck::new(&off);
    std::thread::sleep(Duration::from_millis(60));
    assert!(s.add(1).is_ok());
}

#[test]
fn a_bad_mirror_is_quoted_without_its_password() {
    for bad in [
        "http://u:s3cret@m/",
        "https://github.com/=ftp://u:s3cret@m/",
        "=https://u:s3cret@m/",
    ] {
        let e = Mirror::parse(bad).unwrap_err();
        assert!(!e.contains("s3cret") && e.contains("u:***@m"), "{e}");
    }
    let m = Mirror::parse("https://github.com/=https://u:s3cret@m/").unwrap();
    assert!(!format!("{m:?}").contains("s3cret"), "{m:?}");
}
