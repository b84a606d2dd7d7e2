//! Placeholder until the detect module lands.
#[derive(Debug, clap::Args)]
pub struct DetectArgs {
    /// kubectl get nodes -o json
    #[arg(long)]
    pub nodes: Option<String>,
}
pub fn run(_args: &DetectArgs) -> anyhow::Result<u8> {
    Err(crate::error::Error::Internal("detect is not built yet".into()).into())
}
