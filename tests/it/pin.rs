//! `builder pin` against a loopback server publishing artifacts and checksum files in each
//! project's naming: pins written per arch with every other byte of the profile kept, a
//! checksum file that disagrees with the download refused (profile untouched), a missing or
//! unpublished checksum file refused without --trust-download and pinned with a comment with
//! it, built-in profiles refused, a second run that changes nothing, and SIGINT mid-download
//! (exit 130, its partials removed, the profile untouched).

use crate::common::*;

/// Versions no catalog knows, so every artifact starts unpinned.
const CTR: &str = "9.9.1";
const RUNC: &str = "9.9.2";
const CRICTL: &str = "9.9.3";
const CRID: &str = "9.9.4";

struct Site {
    server: Server,
    ws: Workspace,
}

fn body(what: &str, arch: &str) -> Vec<u8> {
    format!("{what} {arch} release bytes\n").into_bytes()
}

fn ctr_path(arch: &str) -> String {
    format!("/containerd/v{CTR}/containerd-{CTR}-linux-{arch}.tar.gz")
}

fn crictl_path(arch: &str) -> String {
    format!("/crictl/v{CRICTL}/crictl-v{CRICTL}-linux-{arch}.tar.gz")
}

impl Site {
    /// Serves containerd (`.sha256sum` beside), runc (one `runc.sha256sum`), crictl (`.sha256`,
    /// the hex alone) for amd64 and arm64, and cri-dockerd (no checksum file).
    fn start() -> Site {
        let server = Server::start();
        let mut runc_list = String::new();
        for arch in ARCHES {
            let ctr = body("containerd", arch);
            let name = format!("containerd-{CTR}-linux-{arch}.tar.gz");
            server.route(
                &format!("{}.sha256sum", ctr_path(arch)),
                Behaviour::Ok(format!("{}  {name}\n", sha256_hex(&ctr)).into_bytes()),
            );
            server.route(&ctr_path(arch), Behaviour::Ok(ctr));
            let runc = body("runc", arch);
            runc_list.push_str(&format!("{}  runc.{arch}\n", sha256_hex(&runc)));
            server.route(&format!("/runc/v{RUNC}/runc.{arch}"), Behaviour::Ok(runc));
            let crictl = body("crictl", arch);
            server.route(
                &format!("{}.sha256", crictl_path(arch)),
                Behaviour::Ok(sha256_hex(&crictl).into_bytes()),
            );
            server.route(&crictl_path(arch), Behaviour::Ok(crictl));
            server.route(
                &format!("/crid/v{CRID}/cri-dockerd-{CRID}.{arch}.tgz"),
                Behaviour::Ok(body("cri-dockerd", arch)),
            );
        }
        runc_list.push_str(&format!("{}  runc.tar.xz\n", sha256_hex(b"source")));
        server.route(
            &format!("/runc/v{RUNC}/runc.sha256sum"),
            Behaviour::Ok(runc_list.into_bytes()),
        );
        Site {
            server,
            ws: Workspace::new(),
        }
    }

    fn url(&self, path: &str) -> String {
        self.server.url(path)
    }

    /// The profile: comments, odd spacing and a pre-pinned arch, which must all survive.
    fn profile(&self, with_crid: bool) -> String {
        let mut p = format!(
            r#"#:schema ./schema.json
# Site nodes: containerd bumped past the catalog.
schema   = 1          # the format
name = "site"
kubernetes = "1.36"
runtime = "containerd"
arch = ["amd64", "arm64"]   # both

# The runtime, bumped for CVE-0000-0000.
[[artifact]]
name = "containerd"   # keep this comment
version = "{CTR}"
url = "{ctr}"
install = [{{ from = "bin/*", to = "/usr/local/bin/", mode = "0755" }}]

[[artifact]]
name = "runc"
version = "{RUNC}"
url = "{runc}"
sha256.amd64 = "{runc_amd64}"
install = [{{ to = "/usr/local/sbin/runc", mode = "0755" }}]

  # crictl, indented comment
[[artifact]]
name = "crictl"
version = "{CRICTL}"
url = "{crictl}"
install = [{{ from = "crictl", to = "/usr/local/bin/", mode = "0755" }}]
"#,
            ctr = self.url(&ctr_path("{arch}")),
            runc = self.url("/runc/v{version}/runc.{arch}"),
            runc_amd64 = sha256_hex(&body("runc", "amd64")),
            crictl = self.url(&crictl_path("{arch}")),
        );
        if with_crid {
            p.push_str(&format!(
                "\n[[artifact]]\nname = \"cri-dockerd\"\nversion = \"{CRID}\"\nurl = \"{}\"\n\
                 install = [{{ from = \"cri-dockerd/cri-dockerd\", to = \"/usr/local/bin/\", mode = \"0755\" }}]\n",
                self.url("/crid/v{version}/cri-dockerd-{version}.{arch}.tgz")
            ));
        }
        p
    }

    fn pin(&self, extra: &[&str]) -> std::process::Output {
        let mut args = vec!["pin", "--profile", "profiles/site.toml", "--retries", "1"];
        args.extend_from_slice(extra);
        self.ws.run(&args)
    }

    fn text(&self) -> String {
        read(self.ws.path().join("profiles/site.toml"))
    }

    /// Nothing but site.toml in profiles/: no temp file left behind.
    fn only_the_profile(&self) {
        let names: Vec<String> = std::fs::read_dir(self.ws.path().join("profiles"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["site.toml"]);
    }
}

fn pin_line(arch: &str, what: &str) -> String {
    format!("sha256.{arch} = \"{}\"", sha256_hex(&body(what, arch)))
}

#[test]
fn pins_are_written_per_arch_keeping_every_other_byte() {
    let site = Site::start();
    let original = site.profile(false);
    site.ws.write_profile("site", &original);

    // A dry run prints the lines and changes nothing.
    let dry = site.pin(&[]);
    assert_ok(&dry);
    assert_eq!(site.text(), original);
    let out = stdout(&dry);
    assert!(out.contains("5 pin(s) to write"), "{out}");
    for (arch, what) in [
        ("amd64", "containerd"),
        ("arm64", "containerd"),
        ("arm64", "runc"),
    ] {
        assert!(
            out.contains(&format!(": {}", pin_line(arch, what))),
            "{out}"
        );
    }
    assert!(
        !out.contains(&pin_line("amd64", "runc")),
        "already pinned: {out}"
    );

    let wrote = site.pin(&["--write"]);
    assert_ok(&wrote);
    assert!(
        stderr(&wrote).contains("wrote 5 pin(s) into profiles/site.toml"),
        "{}",
        stderr(&wrote)
    );
    // Exactly the new lines, after each url; the existing runc pin table grows in place.
    let url_line = |path: &str| format!("url = \"{}\"\n", site.url(path));
    let expected = original
        .replace(
            &url_line(&ctr_path("{arch}")),
            &format!(
                "{}{}\n{}\n",
                url_line(&ctr_path("{arch}")),
                pin_line("amd64", "containerd"),
                pin_line("arm64", "containerd")
            ),
        )
        .replace(
            &format!("{}\n", pin_line("amd64", "runc")),
            &format!(
                "{}\n{}\n",
                pin_line("amd64", "runc"),
                pin_line("arm64", "runc")
            ),
        )
        .replace(
            &url_line(&crictl_path("{arch}")),
            &format!(
                "{}{}\n{}\n",
                url_line(&crictl_path("{arch}")),
                pin_line("amd64", "crictl"),
                pin_line("arm64", "crictl")
            ),
        );
    assert_ne!(expected, original);
    assert_eq!(site.text(), expected);
    site.only_the_profile();

    // The result loads, with every pin the profile's own (containerd 9.9.1 is no real
    // release, so outside the compatibility table).
    let show = site.ws.run(&[
        "show",
        "--profile",
        "profiles/site.toml",
        "--allow-unsupported",
    ]);
    assert_ok(&show);
    assert!(
        stdout(&show).contains("every pin comes from the profile"),
        "{}",
        stdout(&show)
    );

    // Idempotent: a second run finds nothing to do and fetches nothing.
    let hits = site.server.total_hits();
    let again = site.pin(&["--write"]);
    assert_ok(&again);
    assert!(
        stderr(&again).contains("nothing to do"),
        "{}",
        stderr(&again)
    );
    assert_eq!(site.text(), expected);
    assert_eq!(site.server.total_hits(), hits);
}

#[test]
fn a_checksum_file_that_disagrees_is_refused_and_the_profile_untouched() {
    let site = Site::start();
    // Upstream's file says other bytes than the download has (a tampered mirror, a re-upload).
    site.server.route(
        &format!("{}.sha256", crictl_path("arm64")),
        Behaviour::Ok(sha256_hex(b"other bytes").into_bytes()),
    );
    let original = site.profile(false);
    site.ws.write_profile("site", &original);
    let out = site.pin(&["--write"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains(&format!("crictl {CRICTL} (arm64)"))
            && err.contains(&sha256_hex(&body("crictl", "arm64")))
            && err.contains(&sha256_hex(b"other bytes"))
            && err.contains("profile is unchanged"),
        "{err}"
    );
    assert_eq!(site.text(), original);
    site.only_the_profile();
}

#[test]
fn a_missing_checksum_file_needs_trust_download_and_is_then_commented() {
    let site = Site::start();
    site.server.route(
        &format!("{}.sha256sum", ctr_path("arm64")),
        Behaviour::Status(404),
    );
    let original = site.profile(false);
    site.ws.write_profile("site", &original);
    let out = site.pin(&["--write"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("containerd-9.9.1-linux-arm64.tar.gz.sha256sum is not there")
            && err.contains("--trust-download"),
        "{err}"
    );
    assert_eq!(site.text(), original);

    let out = site.pin(&["--write", "--trust-download"]);
    assert_ok(&out);
    let text = site.text();
    assert!(
        text.contains(&format!("{}\n", pin_line("amd64", "containerd"))),
        "{text}"
    );
    let trusted = format!(
        "{}  # trusted from the download (builder pin --trust-download): no checksum file at {}.sha256sum\n",
        pin_line("arm64", "containerd"),
        site.url(&ctr_path("arm64"))
    );
    assert!(text.contains(&trusted), "{text}");
}

#[test]
fn a_trusted_download_is_made_once_for_the_dry_run_and_the_write() {
    let site = Site::start();
    site.server.route(
        &format!("{}.sha256sum", ctr_path("arm64")),
        Behaviour::Status(404),
    );
    site.ws.write_profile("site", &site.profile(false));
    let dry = site.pin(&["--trust-download"]);
    assert_ok(&dry);
    assert_eq!(site.server.hits(&ctr_path("arm64")), 1);
    // Control: with the cached copy gone, a second dry run downloads again.
    std::fs::remove_dir_all(site.ws.cache()).unwrap();
    assert_ok(&site.pin(&["--trust-download"]));
    assert_eq!(site.server.hits(&ctr_path("arm64")), 2);
    let out = site.pin(&["--write", "--trust-download"]);
    assert_ok(&out);
    assert_eq!(
        site.server.hits(&ctr_path("arm64")),
        2,
        "the write reuses the dry run's download"
    );
    assert!(
        stderr(&out).contains("(downloaded and trusted earlier)"),
        "{}",
        stderr(&out)
    );
    // The pin written is the digest the dry run printed.
    let line = pin_line("arm64", "containerd");
    assert!(stdout(&dry).contains(&line), "{}", stdout(&dry));
    assert!(site.text().contains(&line));
}

#[test]
fn unpublished_checksums_are_refused_before_any_download_unless_trusted() {
    let site = Site::start();
    site.ws.write_profile("site", &site.profile(true));
    let original = site.text();
    let out = site.pin(&[]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("no upstream checksum file to check cri-dockerd against")
            && err.contains("--trust-download"),
        "{err}"
    );
    assert_eq!(
        site.server.total_hits(),
        0,
        "refused before fetching anything"
    );
    assert_eq!(site.text(), original);

    let out = site.pin(&["--write", "--trust-download"]);
    assert_ok(&out);
    let text = site.text();
    for arch in ARCHES {
        let line = format!(
            "{}  # trusted from the download (builder pin --trust-download): upstream publishes no checksum file\n",
            pin_line(arch, "cri-dockerd")
        );
        assert!(text.contains(&line), "{text}");
    }
    // The verified ones carry no comment.
    assert!(
        text.contains(&format!("{}\n", pin_line("arm64", "crictl"))),
        "{text}"
    );
}

#[test]
fn built_in_profiles_are_not_edited() {
    let ws = Workspace::new();
    let out = ws.run(&["pin", "--profile", "cri-dockerd"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("built into builder") && err.contains("extends = \"cri-dockerd\""),
        "{err}"
    );
    // A profile that is all pinned (the shipped one, as a file) has nothing to do.
    let shipped = read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/profiles/containerd.toml"
    ));
    let path = ws.write_profile("containerd", &shipped);
    let out = ws.run(&["pin", "--profile", "containerd", "--write"]);
    assert_ok(&out);
    assert!(stderr(&out).contains("nothing to do"), "{}", stderr(&out));
    assert_eq!(read(path), shipped);
}

#[test]
fn sigint_while_pinning_removes_the_partial_and_leaves_the_profile() {
    use rustix::process::{kill_process, Pid, Signal};
    let site = Site::start();
    let original = site.profile(false);
    site.ws.write_profile("site", &original);
    // containerd (amd64) trickles in: the pin is in the middle of downloading it.
    site.server.route(
        &ctr_path("amd64"),
        Behaviour::Drip(
            body("containerd", "amd64"),
            std::time::Duration::from_millis(100),
        ),
    );
    let child = site
        .ws
        .command(&["pin", "--profile", "profiles/site.toml", "--write"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let partials = || crate::crash::partials(&site.ws.cache());
    crate::crash::wait_for("a .partial in the cache", || !partials().is_empty());
    kill_process(Pid::from_child(&child), Signal::INT).unwrap();
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(130), "{}", stderr(&o));
    let err = stderr(&o);
    // The other downloads' partials too, when they were still open at that moment.
    let last = err.lines().last().unwrap_or_default();
    assert!(
        last.starts_with(
            "interrupted (SIGINT): pin of profile profiles/site.toml stopped; removed "
        ) && last.contains(" partial download"),
        "{err}"
    );
    assert_eq!(partials(), Vec::<String>::new());
    assert_eq!(site.text(), original);
    site.only_the_profile();
}

#[test]
fn write_through_a_symlink_edits_the_file_it_points_to() {
    use std::os::unix::fs::PermissionsExt;
    let site = Site::start();
    let original = site.profile(false);
    // The real profile in another folder, mode 0640; profiles/site.toml links to it.
    let real_dir = site.ws.path().join("site-config");
    std::fs::create_dir(&real_dir).unwrap();
    let real = real_dir.join("site.toml");
    std::fs::write(&real, &original).unwrap();
    std::fs::set_permissions(&real, std::fs::Permissions::from_mode(0o640)).unwrap();
    std::fs::create_dir_all(site.ws.path().join("profiles")).unwrap();
    let link = site.ws.path().join("profiles/site.toml");
    std::os::unix::fs::symlink("../site-config/site.toml", &link).unwrap();

    let wrote = site.pin(&["--write"]);
    assert_ok(&wrote);
    assert!(
        stderr(&wrote).contains("through the link, into"),
        "{}",
        stderr(&wrote)
    );
    assert!(
        std::fs::symlink_metadata(&link).unwrap().is_symlink(),
        "the link stays a link"
    );
    let text = read(&real);
    assert!(
        text.contains(&pin_line("arm64", "runc")),
        "the real file has the pins"
    );
    assert_eq!(
        std::fs::metadata(&real).unwrap().permissions().mode() & 0o777,
        0o640,
        "its mode kept"
    );
    // No temp file beside either.
    site.only_the_profile();
    let names: Vec<_> = std::fs::read_dir(&real_dir).unwrap().collect();
    assert_eq!(names.len(), 1);
    // The negative control: a second run finds everything pinned through the link.
    let again = site.pin(&["--write"]);
    assert!(
        stderr(&again).contains("nothing to do"),
        "{}",
        stderr(&again)
    );
}
