//! A deterministic gzip writer that compresses on every core: input is cut into fixed 1 MiB
//! chunks, each deflated independently (ending on a sync flush, the last one finishing the
//! stream) and written in order, as pigz does. The bytes depend only on the input and the
//! level, never on the number of cores. The header has no name and mtime 0.
//!
//! Every deflate stream builder writes (this overlay, the sysext image's zlib blocks) comes from
//! miniz_oxide, called directly: it has no CPU-dependent code paths, so the same input gives
//! the same bytes on every build machine, and the golden tests hold them. flate2 (with the
//! faster zlib-rs backend) only reads: the release archives, overlays being reused.

use std::collections::VecDeque;
use std::io::{self, Write};
use std::thread::JoinHandle;

use miniz_oxide::deflate::core::CompressorOxide;
use miniz_oxide::deflate::stream::deflate;
use miniz_oxide::{DataFormat, MZFlush, MZStatus};

const CHUNK: usize = 1 << 20;

/// Gzip level used for overlays. miniz_oxide's level 2 compresses release binaries about 7
/// times faster than level 6 for about 10% more bytes (measured on Go binaries by
/// ci/bench/run.sh's data): a render is dominated by compression, and the overlay is built far
/// more often than it is downloaded.
pub const LEVEL: u32 = 2;

pub struct ParGzWriter<W: Write> {
    out: W,
    level: u32,
    buf: Vec<u8>,
    crc: crc32fast::Hasher,
    total: u64,
    pending: VecDeque<JoinHandle<io::Result<Vec<u8>>>>,
    max_pending: usize,
    wrote_header: bool,
}

impl<W: Write> ParGzWriter<W> {
    pub fn new(out: W, level: u32) -> ParGzWriter<W> {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        ParGzWriter {
            out,
            level,
            buf: Vec::with_capacity(CHUNK),
            crc: crc32fast::Hasher::new(),
            total: 0,
            pending: VecDeque::new(),
            max_pending: cores * 2,
            wrote_header: false,
        }
    }

    fn header(&mut self) -> io::Result<()> {
        if !self.wrote_header {
            // ID1 ID2 CM=deflate FLG=0 MTIME=0 XFL=0 OS=255 (unknown).
            self.out
                .write_all(&[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255])?;
            self.wrote_header = true;
        }
        Ok(())
    }

    fn drain(&mut self, keep: usize) -> io::Result<()> {
        while self.pending.len() > keep {
            let Some(job) = self.pending.pop_front() else {
                break;
            };
            let data = job
                .join()
                .map_err(|_| io::Error::other("a compression thread panicked"))??;
            self.out.write_all(&data)?;
        }
        Ok(())
    }

    fn submit(&mut self, last: bool) -> io::Result<()> {
        self.header()?;
        let data = std::mem::replace(
            &mut self.buf,
            Vec::with_capacity(if last { 0 } else { CHUNK }),
        );
        self.crc.update(&data);
        self.total += data.len() as u64;
        let level = self.level;
        self.pending.push_back(std::thread::spawn(move || {
            deflate_chunk(&data, level, last)
        }));
        self.drain(self.max_pending)
    }

    /// Writes the remaining data and the trailer; returns the inner writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.submit(true)?;
        self.drain(0)?;
        let crc = self.crc.clone().finalize();
        self.out.write_all(&crc.to_le_bytes())?;
        self.out.write_all(&(self.total as u32).to_le_bytes())?;
        self.out.flush()?;
        Ok(self.out)
    }
}

impl<W: Write> Write for ParGzWriter<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let room = CHUNK - self.buf.len();
        let n = room.min(data.len());
        self.buf.extend_from_slice(&data[..n]);
        if self.buf.len() == CHUNK {
            self.submit(false)?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Raw deflate of one chunk: a sync flush at the end, or the final block when `last`.
fn deflate_chunk(data: &[u8], level: u32, last: bool) -> io::Result<Vec<u8>> {
    let mut c = CompressorOxide::default();
    c.set_format_and_level(DataFormat::Raw, u8::try_from(level).unwrap_or(1));
    let mut out = Vec::with_capacity(data.len() / 2 + 1024);
    let flush = if last { MZFlush::Finish } else { MZFlush::Sync };
    let mut consumed = 0;
    loop {
        if out.capacity() - out.len() < 64 * 1024 {
            out.reserve(out.capacity().max(64 * 1024));
        }
        let start = out.len();
        out.resize(out.capacity(), 0);
        let r = deflate(&mut c, &data[consumed..], &mut out[start..], flush);
        out.truncate(start + r.bytes_written);
        consumed += r.bytes_consumed;
        let status = r
            .status
            .map_err(|e| io::Error::other(format!("deflate: {e:?}")))?;
        let filled = out.len() == out.capacity();
        match status {
            MZStatus::StreamEnd => break,
            // A flush is complete once all input is in and the output was not filled up.
            _ if !last && consumed == data.len() && !filled => break,
            _ => {}
        }
    }
    Ok(out)
}

/// A whole zlib stream of `data` at `level` (the sysext image's blocks), by the same
/// deterministic compressor as the overlay.
pub fn zlib(data: &[u8], level: u8) -> Vec<u8> {
    miniz_oxide::deflate::compress_to_vec_zlib(data, level)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn sample(n: usize) -> Vec<u8> {
        // Compressible but not trivial: a counter mixed with text.
        (0..n)
            .map(|i| (i as u32).wrapping_mul(2654435761).to_le_bytes()[i % 3] & 0x3f)
            .collect()
    }

    fn gz(data: &[u8]) -> Vec<u8> {
        let mut w = ParGzWriter::new(Vec::new(), LEVEL);
        for piece in data.chunks(77_777) {
            w.write_all(piece).unwrap();
        }
        w.finish().unwrap()
    }

    #[test]
    fn round_trips_across_chunk_boundaries() {
        for n in [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK + 12345] {
            let data = sample(n);
            let packed = gz(&data);
            let mut back = Vec::new();
            flate2::read::GzDecoder::new(&packed[..])
                .read_to_end(&mut back)
                .unwrap();
            assert_eq!(back, data, "size {n}");
            // Also readable by a multi-member-unaware decoder: it is one member.
            assert_eq!(&packed[..4], &[0x1f, 0x8b, 8, 0]);
            assert_eq!(&packed[4..8], &[0, 0, 0, 0], "mtime must be 0");
        }
    }

    #[test]
    fn output_is_deterministic() {
        let data = sample(2 * CHUNK + 999);
        assert_eq!(gz(&data), gz(&data));
    }
}
