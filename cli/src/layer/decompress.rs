//! Detecting a layer's compression by its content and undoing it.
//!
//! Layers and `import` tarballs arrive as a stream whose name says nothing reliable, so the
//! format is read from the first bytes (the magic numbers), as docker does. The stream is
//! peeked without losing any byte: what was looked at is handed to the decoder again.

use std::fmt;
use std::io::{self, BufRead, Cursor, Read};

/// How a layer stream is compressed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Compression {
    /// A plain tar stream.
    None,
    /// gzip (RFC 1952), possibly several members one after another.
    Gzip,
    /// zstandard, possibly several frames.
    Zstd,
    /// xz, possibly several streams.
    Xz,
    /// bzip2, possibly several streams.
    Bzip2,
}

impl Compression {
    /// The format's usual lower-case name (`"gzip"`, `"zstd"`, …; `"none"` for plain tar).
    pub fn name(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
            Compression::Xz => "xz",
            Compression::Bzip2 => "bzip2",
        }
    }
}

impl fmt::Display for Compression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How many leading bytes [`detect`] needs to tell every format apart.
pub const MAGIC_LEN: usize = 6;

const GZIP_MAGIC: &[u8] = &[0x1f, 0x8b];
const ZSTD_MAGIC: &[u8] = &[0x28, 0xb5, 0x2f, 0xfd];
const XZ_MAGIC: &[u8] = &[0xfd, b'7', b'z', b'X', b'Z', 0x00];
const BZIP2_MAGIC: &[u8] = b"BZh";

/// Memory an xz stream may ask for (its dictionary); `xz -9e` needs 65 MiB.
const XZ_MEMLIMIT: u64 = 1 << 30;

/// Tells the compression from the first bytes of a stream ([`MAGIC_LEN`] are enough; fewer
/// are accepted, and anything unrecognised is [`Compression::None`]).
pub fn detect(magic: &[u8]) -> Compression {
    if magic.starts_with(GZIP_MAGIC) {
        Compression::Gzip
    } else if magic.starts_with(ZSTD_MAGIC) {
        Compression::Zstd
    } else if magic.starts_with(XZ_MAGIC) {
        Compression::Xz
    } else if magic.starts_with(BZIP2_MAGIC)
        && !matches!(magic.get(3), Some(b) if !(b'1'..=b'9').contains(b))
    {
        Compression::Bzip2
    } else {
        Compression::None
    }
}

/// Looks at the start of `r`, and returns the compression found and a reader of the
/// decompressed stream. No byte of `r` is lost: short first reads are handled by keeping what
/// was seen and giving it to the decoder first. gzip, xz, bzip2 and zstd streams made of
/// several members (as `pigz` and parallel compressors write them) are read to the end.
pub fn decompress<'a, R: BufRead + Send + 'a>(
    mut r: R,
) -> io::Result<(Compression, Box<dyn Read + Send + 'a>)> {
    let mut head = Vec::with_capacity(MAGIC_LEN);
    loop {
        let buf = match r.fill_buf() {
            Ok(buf) => buf,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if head.is_empty() && buf.len() >= MAGIC_LEN {
            // The usual case: everything needed is already buffered, and nothing is consumed.
            let kind = detect(&buf[..MAGIC_LEN]);
            return Ok((kind, wrap(kind, Cursor::new(head).chain(r))?));
        }
        if buf.is_empty() {
            break;
        }
        let take = buf.len().min(MAGIC_LEN - head.len());
        head.extend_from_slice(&buf[..take]);
        r.consume(take);
        if head.len() == MAGIC_LEN {
            break;
        }
    }
    let kind = detect(&head);
    Ok((kind, wrap(kind, Cursor::new(head).chain(r))?))
}

fn wrap<'a, R: BufRead + Send + 'a>(
    kind: Compression,
    stream: R,
) -> io::Result<Box<dyn Read + Send + 'a>> {
    Ok(match kind {
        Compression::None => Box::new(stream),
        Compression::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(stream)),
        Compression::Zstd => {
            // Concatenated frames are decoded by default; the window stays at zstd's default
            // limit (128 MiB) so a hostile frame cannot make us allocate gigabytes.
            Box::new(zstd::stream::read::Decoder::with_buffer(stream)?)
        }
        Compression::Xz => {
            let dec =
                xz2::stream::Stream::new_stream_decoder(XZ_MEMLIMIT, xz2::stream::CONCATENATED)
                    .map_err(io::Error::other)?;
            Box::new(xz2::bufread::XzDecoder::new_stream(stream, dec))
        }
        Compression::Bzip2 => Box::new(bzip2::bufread::MultiBzDecoder::new(stream)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufReader, Write};

    fn sample() -> Vec<u8> {
        // Something tar-like and compressible, a few hundred KiB.
        let mut v = Vec::new();
        for i in 0..40_000u32 {
            v.extend_from_slice(format!("line {i} of the sample layer\n").as_bytes());
        }
        v
    }

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    fn roundtrip(compressed: &[u8], want: Compression, data: &[u8]) {
        assert_eq!(detect(compressed), want);
        let (kind, mut r) = decompress(compressed).unwrap();
        assert_eq!(kind, want);
        let mut out = Vec::new();
        r.read_to_end(&mut out).unwrap();
        assert_eq!(out, data);
        // The same with a reader that hands out one byte at a time.
        let (kind, mut r) = decompress(BufReader::with_capacity(1, compressed)).unwrap();
        assert_eq!(kind, want);
        let mut out = Vec::new();
        r.read_to_end(&mut out).unwrap();
        assert_eq!(out, data);
    }

    #[test]
    fn detect_magic_numbers() {
        assert_eq!(detect(&[0x1f, 0x8b, 8, 0, 0, 0]), Compression::Gzip);
        assert_eq!(detect(&[0x28, 0xb5, 0x2f, 0xfd, 0, 0]), Compression::Zstd);
        assert_eq!(detect(b"\xfd7zXZ\x00"), Compression::Xz);
        assert_eq!(detect(b"BZh91AY"), Compression::Bzip2);
        assert_eq!(detect(b"BZhx"), Compression::None);
        assert_eq!(detect(b"usr/\0\0"), Compression::None);
        assert_eq!(detect(b""), Compression::None);
        assert_eq!(Compression::Zstd.to_string(), "zstd");
    }

    #[test]
    fn plain_tar_passes_through() {
        let data = sample();
        roundtrip(&data, Compression::None, &data);
    }

    #[test]
    fn short_and_empty_input() {
        for input in [&b""[..], b"a", b"\x1f", b"BZ"] {
            let (kind, mut r) = decompress(BufReader::with_capacity(1, input)).unwrap();
            assert_eq!(kind, Compression::None);
            let mut out = Vec::new();
            r.read_to_end(&mut out).unwrap();
            assert_eq!(out, input);
        }
    }

    #[test]
    fn gzip_roundtrip() {
        let data = sample();
        roundtrip(&gzip(&data), Compression::Gzip, &data);
    }

    #[test]
    fn gzip_multi_member() {
        let data = sample();
        let (a, b) = data.split_at(data.len() / 3);
        let mut z = gzip(a);
        z.extend_from_slice(&gzip(b));
        roundtrip(&z, Compression::Gzip, &data);
    }

    #[test]
    fn zstd_roundtrip() {
        let data = sample();
        let z = zstd::stream::encode_all(&data[..], 3).unwrap();
        roundtrip(&z, Compression::Zstd, &data);
        // Two frames back to back.
        let (a, b) = data.split_at(1000);
        let mut z = zstd::stream::encode_all(a, 1).unwrap();
        z.extend_from_slice(&zstd::stream::encode_all(b, 1).unwrap());
        roundtrip(&z, Compression::Zstd, &data);
    }

    #[test]
    fn xz_roundtrip() {
        let data = sample();
        let mut e = xz2::write::XzEncoder::new(Vec::new(), 6);
        e.write_all(&data).unwrap();
        let z = e.finish().unwrap();
        roundtrip(&z, Compression::Xz, &data);
    }

    #[test]
    fn bzip2_roundtrip() {
        let data = sample();
        let mut e = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::default());
        e.write_all(&data).unwrap();
        let z = e.finish().unwrap();
        roundtrip(&z, Compression::Bzip2, &data);
    }

    #[test]
    fn corrupt_gzip_is_an_error() {
        let mut z = gzip(&sample());
        let n = z.len();
        z[n / 2] ^= 0xff;
        z[n / 2 + 1] ^= 0xff;
        let (_, mut r) = decompress(&z[..]).unwrap();
        let mut out = Vec::new();
        assert!(r.read_to_end(&mut out).is_err());
    }
}
