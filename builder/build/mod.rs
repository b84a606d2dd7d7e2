//! Building an arch's rootfs and its archive: the rootfs ledger every write goes through
//! (`install`), verified artifacts unpacked into it (`archive`), static overlays copied in
//! (`overlay`), the deterministic tarball (`pack`, `gzip`), and the output folder a render
//! stages and swaps in (`output`).

pub mod archive;
pub mod gzip;
pub mod install;
pub mod output;
pub mod overlay;
pub mod pack;
