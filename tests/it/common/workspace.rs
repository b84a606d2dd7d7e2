//! A scratch folder to run the real binary in: profiles/, a cache, an output folder, and the
//! environment every run starts from.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use super::{assert_ok, Upstream};

/// A scratch folder with profiles/, a cache and an output folder; runs the real binary in it.
pub struct Workspace {
    pub dir: tempfile::TempDir,
}

/// A loopback upstream and a workspace with profile `node`: containerd 2.1.9 for Kubernetes
/// 1.36, both arches, every artifact served and pinned.
pub fn node_setup() -> (Upstream, Workspace) {
    let up = Upstream::start();
    let ws = Workspace::new();
    ws.write_profile("node", &up.containerd_profile("node", "2.2.7", "1.36"));
    (up, ws)
}

/// A loopback upstream and a workspace with profile `dock`: cri-dockerd for Kubernetes `kube`,
/// amd64, every artifact served and pinned.
pub fn dock_setup(kube: &str) -> (Upstream, Workspace) {
    let up = Upstream::start();
    let ws = Workspace::new();
    ws.write_profile("dock", &up.cri_dockerd_profile("dock", kube));
    (up, ws)
}

impl Workspace {
    pub fn new() -> Workspace {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("profiles")).unwrap();
        Workspace { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn cache(&self) -> PathBuf {
        self.dir.path().join("cache")
    }

    pub fn out(&self) -> PathBuf {
        self.dir.path().join("dist")
    }

    pub fn write_profile(&self, name: &str, text: &str) -> PathBuf {
        let p = self
            .dir
            .path()
            .join("profiles")
            .join(format!("{name}.toml"));
        std::fs::write(&p, text).unwrap();
        p
    }

    /// `builder ARGS` in the workspace with its cache, not yet run: SOURCE_DATE_EPOCH, the
    /// offline switch, the signing key and passphrase, RUST_LOG and the proxies unset.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_builder"));
        cmd.current_dir(self.dir.path())
            .args(args)
            .env("BUILDER_CACHE_DIR", self.cache())
            .env_remove("SOURCE_DATE_EPOCH")
            .env_remove("BUILDER_OFFLINE")
            .env_remove("BUILDER_SIGN_KEY")
            .env_remove("BUILDER_SIGN_PASSPHRASE")
            .env_remove("RUST_LOG")
            .env_remove("HTTP_PROXY")
            .env_remove("HTTPS_PROXY")
            .env_remove("http_proxy")
            .env_remove("https_proxy")
            .env_remove("ALL_PROXY");
        cmd
    }

    /// Runs `builder ARGS` in the workspace (see [`Workspace::command`]).
    pub fn run(&self, args: &[&str]) -> Output {
        self.run_env(args, &[])
    }

    /// Runs `builder ARGS` in the workspace with `env` on top.
    pub fn run_env(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let mut cmd = self.command(args);
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.output().unwrap()
    }

    /// `builder render --profile PROFILE --out dist --retries 2 EXTRA...`.
    pub fn render(&self, profile: &str, extra: &[&str]) -> Output {
        self.render_env(profile, extra, &[])
    }

    /// [`Workspace::render`] with `env` on top.
    pub fn render_env(&self, profile: &str, extra: &[&str], env: &[(&str, &str)]) -> Output {
        let mut args = vec![
            "render",
            "--profile",
            profile,
            "--out",
            "dist",
            "--retries",
            "2",
        ];
        args.extend_from_slice(extra);
        self.run_env(&args, env)
    }

    /// `builder render --profile PROFILE --arch amd64 --out OUT EXTRA...` with `env`; asserts
    /// success.
    pub fn render_amd64(
        &self,
        profile: &str,
        out: &str,
        extra: &[&str],
        env: &[(&str, &str)],
    ) -> Output {
        let mut args = vec![
            "render",
            "--profile",
            profile,
            "--arch",
            "amd64",
            "--out",
            out,
        ];
        args.extend_from_slice(extra);
        let o = self.run_env(&args, env);
        assert_ok(&o);
        o
    }
}
