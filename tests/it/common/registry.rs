//! A real CNCF Distribution registry (v3, `BUILDER_DISTRIBUTION`, built by
//! ci/consumers/build.sh) on loopback for the push/pull tests: TLS with a test CA made by the
//! openssl CLI (the certificate names 127.0.0.1, 10.0.2.2 for qemu's guests, and localhost),
//! and either htpasswd (Basic) auth or token auth backed by tests/fixtures/registry/token_server.py
//! (RS256 tokens the registry verifies against the signing certificate). Storage is a folder
//! the test can reach into, to tamper with a blob.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::programs::{consumer, env_path};

pub const USER: &str = "builder-ci";
pub const PASSWORD: &str = "pw-never-printed-7c1e";

/// How the registry asks for credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    /// htpasswd: Basic, every request.
    Basic,
    /// Bearer tokens from the token server: anonymous pull, push with the password.
    Token,
}

pub struct TestRegistry {
    pub dir: tempfile::TempDir,
    pub host: String,
    pub ca: PathBuf,
    /// A docker config.json (in `docker_config`) with this registry's credentials.
    pub docker_config: PathBuf,
    children: Vec<Child>,
}

/// The registry binary, or None (SKIP, or a failure under BUILDER_REQUIRE_CONSUMERS).
pub fn distribution() -> Option<PathBuf> {
    consumer(
        "the Distribution registry (BUILDER_DISTRIBUTION)",
        env_path("BUILDER_DISTRIBUTION"),
    )
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn openssl(dir: &Path, args: &[&str]) {
    let o = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// A self-signed certificate NAME.pem with its key NAME.key in `dir`.
fn self_signed(dir: &Path, name: &str, subject: &str) {
    let (key, pem) = (format!("{name}.key"), format!("{name}.pem"));
    let args = [
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", subject,
    ];
    openssl(dir, &[&args[..], &["-keyout", &key, "-out", &pem]].concat());
}

/// A CA (ca.pem) and a server certificate it signed (server.pem, server.key) in `dir`.
pub fn make_tls(dir: &Path) {
    self_signed(dir, "ca", "/CN=builder test CA");
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
            "-subj",
            "/CN=127.0.0.1",
        ],
    );
    std::fs::write(
        dir.join("san.ext"),
        "subjectAltName=IP:127.0.0.1,IP:10.0.2.2,DNS:localhost\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.pem",
            "-days",
            "2",
            "-extfile",
            "san.ext",
        ],
    );
}

impl TestRegistry {
    /// Starts the registry (and, for token auth, the token server); None when the registry
    /// binary is missing (after SKIP).
    pub fn start(auth: Auth) -> Option<TestRegistry> {
        let bin = distribution()?;
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        make_tls(d);
        let mut children = Vec::new();
        let auth_yaml = match auth {
            Auth::Basic => {
                let o = Command::new("htpasswd")
                    .args(["-Bbn", USER, PASSWORD])
                    .output();
                let o = o.expect("htpasswd (apache2-utils) is needed for the registry tests");
                assert!(o.status.success());
                std::fs::write(d.join("htpasswd"), &o.stdout).unwrap();
                format!(
                    "  htpasswd:\n    realm: builder-test\n    path: {}\n",
                    d.join("htpasswd").display()
                )
            }
            Auth::Token => {
                self_signed(d, "token", "/CN=builder test token issuer");
                let port_file = d.join("token.port");
                let script = super::fixture("registry/token_server.py");
                let child = Command::new("python3")
                    .arg(script)
                    .arg(&port_file)
                    .arg(d.join("token.key"))
                    .arg(d.join("token.pem"))
                    .args(["builder-test-issuer", USER, PASSWORD])
                    .arg(d.join("token.log"))
                    .stdout(Stdio::null())
                    .spawn()
                    .unwrap();
                children.push(child);
                let port = wait_for_file(&port_file);
                format!(
                    "  token:\n    realm: http://127.0.0.1:{port}/token\n    service: builder-test\n    issuer: builder-test-issuer\n    rootcertbundle: {}\n",
                    d.join("token.pem").display()
                )
            }
        };
        let port = free_port();
        let config = format!(
            "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\n\
             http:\n  addr: 127.0.0.1:{port}\n  tls:\n    certificate: {}\n    key: {}\nauth:\n{auth_yaml}",
            d.join("data").display(),
            d.join("server.pem").display(),
            d.join("server.key").display()
        );
        std::fs::write(d.join("config.yml"), config).unwrap();
        let log = std::fs::File::create(d.join("registry.log")).unwrap();
        let child = Command::new(bin)
            .args(["serve", d.join("config.yml").to_str().unwrap()])
            .env("OTEL_TRACES_EXPORTER", "none")
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        children.push(child);
        let host = format!("127.0.0.1:{port}");
        wait_for_port(&host, &d.join("registry.log"));
        let docker = d.join("docker");
        std::fs::create_dir(&docker).unwrap();
        let b64 = base64_encode(format!("{USER}:{PASSWORD}").as_bytes());
        std::fs::write(
            docker.join("config.json"),
            format!(r#"{{"auths":{{"{host}":{{"auth":"{b64}"}}}}}}"#),
        )
        .unwrap();
        Some(TestRegistry {
            ca: d.join("ca.pem"),
            docker_config: docker,
            host,
            dir,
            children,
        })
    }

    /// The storage file of a blob, to tamper with.
    pub fn blob_file(&self, hex: &str) -> PathBuf {
        self.dir
            .path()
            .join("data/docker/registry/v2/blobs/sha256")
            .join(&hex[..2])
            .join(hex)
            .join("data")
    }

    /// The token server's log: one line per token handed out (`anonymous pull` or `USER push`).
    pub fn token_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("token.log")).unwrap_or_default()
    }

    /// The registry's own log (for a failing assertion's message).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("registry.log")).unwrap_or_default()
    }
}

impl Drop for TestRegistry {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn wait_for_file(path: &Path) -> String {
    let start = Instant::now();
    loop {
        if let Ok(s) = std::fs::read_to_string(path) {
            if s.ends_with('\n') {
                return s.trim().to_string();
            }
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "{} did not appear",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn wait_for_port(host: &str, log: &Path) {
    let start = Instant::now();
    while std::net::TcpStream::connect(host).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the registry did not listen on {host}: {}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn base64_encode(bytes: &[u8]) -> String {
    use base64ct::Encoding;
    base64ct::Base64::encode_string(bytes)
}
