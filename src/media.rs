//! Images uploaded with notices: checked before they are decoded, decoded with bounds,
//! turned upright, stripped of their metadata (EXIF: a phone's photo says where it was
//! taken), given a preview and a blurhash; and kept in a [`MediaStorage`].
//!
//! Decoding uses the `image` crate (JPEG, PNG, WebP, GIF); blurhashes the `blurhash`
//! crate. Both run on the blocking pool, inside `catch_unwind`: a hostile file is a 422,
//! never a crash. Re-encoding is what strips metadata: nothing of the upload but its
//! pixels is kept.

use async_trait::async_trait;
use bytes::Bytes;
use std::io::Cursor;
use std::path::PathBuf;
use std::sync::Arc;

/// Largest upload read (Mastodon's image limit).
pub const MAX_BYTES: usize = 16 * 1024 * 1024;
/// Most pixels an image may have (Mastodon's `image_matrix_limit`).
pub const MAX_PIXELS: u64 = 33_177_600;
/// Longest side read at all.
const MAX_SIDE: u32 = 16_384;
/// Longest side kept of the original, and of the preview.
const KEEP_SIDE: u32 = 3_840;
const PREVIEW_SIDE: u32 = 640;
pub const MIME_TYPES: [&str; 4] = ["image/jpeg", "image/png", "image/webp", "image/gif"];

#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    #[error("Validation failed: the file is not an image Tidings takes (JPEG, PNG, WebP, GIF)")]
    Unsupported,
    #[error("Validation failed: the image is larger than {MAX_PIXELS} pixels")]
    TooLarge,
    #[error("Validation failed: the image cannot be read: {0}")]
    Broken(String),
}

/// An image as it will be kept: the original (upright, re-encoded, without metadata, at
/// most [`KEEP_SIDE`] on its longest side), a preview and their sizes.
pub struct Processed {
    pub original: Vec<u8>,
    pub original_type: &'static str,
    pub width: u32,
    pub height: u32,
    pub preview: Vec<u8>,
    pub preview_width: u32,
    pub preview_height: u32,
    pub blurhash: String,
}

/// Images decoded at once, node-wide. A 10 MB photo takes about 260 MiB while it is
/// decoded and resized (BENCHMARKS.md, "Media upload"), so uploads beyond these wait their
/// turn instead of growing memory with every upload in flight.
pub const MAX_DECODES: usize = 2;
static DECODES: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(MAX_DECODES);

/// Check, decode and re-encode `bytes` on the blocking pool.
pub async fn process(bytes: Bytes) -> Result<Processed, MediaError> {
    let _turn = DECODES
        .acquire()
        .await
        .map_err(|_| MediaError::Broken("the server is shutting down".into()))?;
    tokio::task::spawn_blocking(move || {
        std::panic::catch_unwind(|| process_now(&bytes))
            .unwrap_or_else(|_| Err(MediaError::Broken("the decoder gave up".into())))
    })
    .await
    .unwrap_or_else(|_| Err(MediaError::Broken("the decoder gave up".into())))
}

/// An avatar (400×400) or a header (1500×500), as Mastodon sizes them: checked and
/// decoded as an upload is, cropped to fill, re-encoded without metadata (PNG when the
/// upload may have transparency, JPEG otherwise). The bytes and their type.
pub async fn profile_image(
    bytes: Bytes,
    width: u32,
    height: u32,
) -> Result<(Vec<u8>, &'static str), MediaError> {
    let _turn = DECODES
        .acquire()
        .await
        .map_err(|_| MediaError::Broken("the server is shutting down".into()))?;
    tokio::task::spawn_blocking(move || {
        std::panic::catch_unwind(|| {
            let (img, format) = decode_bounded(&bytes)?;
            let img = img.resize_to_fill(width, height, image::imageops::FilterType::Triangle);
            if matches!(format, image::ImageFormat::Png | image::ImageFormat::Gif) {
                Ok((encode(&img, image::ImageFormat::Png)?, "image/png"))
            } else {
                let rgb = image::DynamicImage::ImageRgb8(img.to_rgb8());
                Ok((encode(&rgb, image::ImageFormat::Jpeg)?, "image/jpeg"))
            }
        })
        .unwrap_or_else(|_| Err(MediaError::Broken("the decoder gave up".into())))
    })
    .await
    .unwrap_or_else(|_| Err(MediaError::Broken("the decoder gave up".into())))
}

fn process_now(bytes: &[u8]) -> Result<Processed, MediaError> {
    use image::ImageFormat;
    let (mut img, format) = decode_bounded(bytes)?;
    if img.width() > KEEP_SIDE || img.height() > KEEP_SIDE {
        img = img.resize(KEEP_SIDE, KEEP_SIDE, image::imageops::FilterType::Triangle);
    }
    // Pictures with transparency stay PNG; photographs become JPEG.
    let keeps_alpha = matches!(format, ImageFormat::Png | ImageFormat::Gif);
    let (original, original_type) = if keeps_alpha {
        (encode(&img, ImageFormat::Png)?, "image/png")
    } else {
        (
            encode(
                &image::DynamicImage::ImageRgb8(img.to_rgb8()),
                ImageFormat::Jpeg,
            )?,
            "image/jpeg",
        )
    };
    // Never larger than the original.
    let small = if img.width() > PREVIEW_SIDE || img.height() > PREVIEW_SIDE {
        img.thumbnail(PREVIEW_SIDE, PREVIEW_SIDE)
    } else {
        img.clone()
    };
    let preview = encode(
        &image::DynamicImage::ImageRgb8(small.to_rgb8()),
        ImageFormat::Jpeg,
    )?;
    let tiny = img.thumbnail(32, 32).to_rgba8();
    let blurhash = blurhash::encode(4, 3, tiny.width(), tiny.height(), tiny.as_raw())
        .map_err(|e| MediaError::Broken(e.to_string()))?;
    Ok(Processed {
        original,
        original_type,
        width: img.width(),
        height: img.height(),
        preview,
        preview_width: small.width(),
        preview_height: small.height(),
        blurhash,
    })
}

/// Check `bytes` from its header (format, sides, pixels) and only then decode it, with
/// the decoder's own limits set, and turn it upright.
fn decode_bounded(bytes: &[u8]) -> Result<(image::DynamicImage, image::ImageFormat), MediaError> {
    use image::{ImageDecoder, ImageFormat, ImageReader};
    let broken = |e: image::ImageError| MediaError::Broken(e.to_string());
    let reader = || {
        ImageReader::new(Cursor::new(bytes))
            .with_guessed_format()
            .map_err(|e| MediaError::Broken(e.to_string()))
    };
    let format = reader()?.format().ok_or(MediaError::Unsupported)?;
    if !matches!(
        format,
        ImageFormat::Jpeg | ImageFormat::Png | ImageFormat::WebP | ImageFormat::Gif
    ) {
        return Err(MediaError::Unsupported);
    }
    // A JPEG decoder fills in what a cut file lacks; a photo that lost its end (no EOI
    // marker, which cannot occur inside the coded data) is refused instead.
    if format == ImageFormat::Jpeg && !bytes.windows(2).any(|w| w == [0xFF, 0xD9]) {
        return Err(MediaError::Broken(
            "the file ends before the image does".into(),
        ));
    }
    // The header alone first: nothing is decoded past the bounds.
    let (w, h) = reader()?.into_dimensions().map_err(broken)?;
    if w == 0 || h == 0 || w > MAX_SIDE || h > MAX_SIDE || u64::from(w) * u64::from(h) > MAX_PIXELS
    {
        return Err(MediaError::TooLarge);
    }
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_PIXELS * 4 * 2);
    let mut r = reader()?;
    r.limits(limits);
    let mut decoder = r.into_decoder().map_err(broken)?;
    let orientation = decoder.orientation().map_err(broken)?;
    let mut img = image::DynamicImage::from_decoder(decoder).map_err(broken)?;
    img.apply_orientation(orientation);
    Ok((img, format))
}

fn encode(img: &image::DynamicImage, format: image::ImageFormat) -> Result<Vec<u8>, MediaError> {
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, format)
        .map_err(|e| MediaError::Broken(e.to_string()))?;
    Ok(out.into_inner())
}

/// Where media files are kept, by key (`<random>.jpg`).
#[async_trait]
pub trait MediaStorage: Send + Sync + 'static {
    async fn put(&self, key: &str, content_type: &str, bytes: Vec<u8>) -> anyhow::Result<()>;
    /// The file and its type, if there is one by that key.
    async fn get(&self, key: &str) -> anyhow::Result<Option<(String, Bytes)>>;
}

/// A directory of this machine: the embedded default (`media/` beside the database).
pub struct DirStorage {
    root: PathBuf,
}

impl DirStorage {
    pub fn new(root: PathBuf) -> Self {
        DirStorage { root }
    }

    /// Keys are made here (hex and an extension): anything else is not one of ours.
    fn path(&self, key: &str) -> Option<PathBuf> {
        let ok = !key.is_empty()
            && key.len() <= 80
            && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '.')
            && !key.starts_with('.');
        ok.then(|| self.root.join(key))
    }
}

fn content_type_of(key: &str) -> &'static str {
    if key.ends_with(".png") {
        "image/png"
    } else {
        "image/jpeg"
    }
}

#[async_trait]
impl MediaStorage for DirStorage {
    async fn put(&self, key: &str, _content_type: &str, bytes: Vec<u8>) -> anyhow::Result<()> {
        let path = self
            .path(key)
            .ok_or_else(|| anyhow::anyhow!("bad media key {key:?}"))?;
        tokio::fs::create_dir_all(&self.root).await?;
        // Written aside and renamed: a reader never sees half a file.
        let tmp = path.with_extension("part");
        tokio::fs::write(&tmp, bytes).await?;
        tokio::fs::rename(&tmp, &path).await?;
        Ok(())
    }

    async fn get(&self, key: &str) -> anyhow::Result<Option<(String, Bytes)>> {
        let Some(path) = self.path(key) else {
            return Ok(None);
        };
        match tokio::fs::read(&path).await {
            Ok(b) => Ok(Some((content_type_of(key).to_string(), Bytes::from(b)))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }
}

/// The database itself: what every node shares when there is no object store.
pub struct DbStorage(pub Arc<dyn crate::store::Store>);

#[async_trait]
impl MediaStorage for DbStorage {
    async fn put(&self, key: &str, content_type: &str, bytes: Vec<u8>) -> anyhow::Result<()> {
        Ok(self.0.put_blob(key, content_type, bytes).await?)
    }

    async fn get(&self, key: &str) -> anyhow::Result<Option<(String, Bytes)>> {
        Ok(self.0.blob(key).await?.map(|(t, b)| (t, Bytes::from(b))))
    }
}

/// The storage a node uses: `TIDINGS_MEDIA_DIR` if set; on SQLite, `media/` beside the
/// database file; on Postgres, the database.
pub fn storage_for(
    config: &crate::config::Config,
    store: Arc<dyn crate::store::Store>,
) -> Arc<dyn MediaStorage> {
    if let Some(dir) = &config.media_dir {
        return Arc::new(DirStorage::new(PathBuf::from(dir)));
    }
    if let Some(path) = config
        .database_url
        .strip_prefix("sqlite://")
        .or_else(|| config.database_url.strip_prefix("sqlite:"))
    {
        let file = PathBuf::from(path.split('?').next().unwrap_or(path));
        let dir = file
            .parent()
            .map(|p| p.to_path_buf())
            .unwrap_or_else(|| PathBuf::from("."));
        return Arc::new(DirStorage::new(dir.join("media")));
    }
    Arc::new(DbStorage(store))
}
