//! `--cloud`: the cloud a first-boot config is handed to as user-data, and the most bytes it
//! takes there. cloud-init's user-data and the Ignition config are both checked against it.

use std::fmt;

/// The cloud whose user-data size limit applies (`--cloud`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, clap::ValueEnum)]
pub enum Cloud {
    /// Amazon EC2: 16384 bytes of raw user-data, before base64 ("User data is limited to
    /// 16 KB, in raw form, before it is base64-encoded": EC2 User Guide, "Run commands when
    /// you launch an EC2 instance with user data input").
    Aws,
    /// Azure: `osProfile.customData`, "the maximum length of the binary array is 65535 bytes"
    /// (Azure REST API reference, Virtual Machines, OSProfile.customData).
    Azure,
    /// Google Compute Engine: 256 KiB per metadata value, 262144 bytes (Compute Engine docs,
    /// "About VM metadata", metadata limits).
    Gcp,
    /// Anything else (NoCloud seed ISOs, OpenStack, bare metal): GCP's 256 KiB, a size every
    /// common datasource accepts.
    Generic,
}

impl Cloud {
    /// The most user-data bytes the cloud accepts (gzipped or not: the bytes handed over).
    pub fn limit(self) -> usize {
        match self {
            Cloud::Aws => 16_384,
            Cloud::Azure => 65_535,
            Cloud::Gcp | Cloud::Generic => 262_144,
        }
    }

    /// The `--cloud` value.
    pub fn as_str(self) -> &'static str {
        match self {
            Cloud::Aws => "aws",
            Cloud::Azure => "azure",
            Cloud::Gcp => "gcp",
            Cloud::Generic => "generic",
        }
    }

    /// The cloud as messages name it.
    pub(super) fn title(self) -> &'static str {
        match self {
            Cloud::Aws => "AWS",
            Cloud::Azure => "Azure",
            Cloud::Gcp => "GCP",
            Cloud::Generic => "generic",
        }
    }
}

impl fmt::Display for Cloud {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
