//! Hibernating into a plain file (`resume-init hibernate --file`): the
//! kernel's image format addresses every page by its page number on the
//! resume device, and no loader checks that those pages belong to swap,
//! so an image written into the blocks of a preallocated file is restored
//! by `resume=<the filesystem's device> resume_offset=<the file's first
//! page>`, by resume-init and by the kernel's own loader alike.
//!
//! Here: the file's marker, the checks of its extents (as `FIEMAP`
//! reports them) that make its blocks a fixed place on the device, and
//! the walk of its pages in file order. `docs/hibernation-file.md` has the
//! design.

/// The signature of a hibernation file's first page without an image,
/// where a swap area has `SWAPSPACE2`: with an image it moves to
/// `orig_sig` (the kernel's loader and ours put it back when they take
/// the image). Nothing takes it for swap (`swapon` wants `SWAPSPACE2`).
pub const MARKER: &[u8; 10] = b"RIHIBFILE1";

/// `FIEMAP` extent flags (`include/uapi/linux/fiemap.h`).
pub const EXTENT_LAST: u32 = 0x1;
const EXTENT_UNKNOWN: u32 = 0x2;
const EXTENT_DELALLOC: u32 = 0x4;
const EXTENT_ENCODED: u32 = 0x8;
const EXTENT_DATA_ENCRYPTED: u32 = 0x80;
const EXTENT_NOT_ALIGNED: u32 = 0x100;
const EXTENT_DATA_INLINE: u32 = 0x200;
const EXTENT_DATA_TAIL: u32 = 0x400;
const EXTENT_SHARED: u32 = 0x2000;

const PAGE: u64 = 4096;

/// One extent as `FIEMAP` reports it (bytes).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Extent {
    pub logical: u64,
    pub physical: u64,
    pub length: u64,
    pub flags: u32,
}

/// Why a file's blocks are no fixed place for an image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// No extent at all (an empty file).
    Empty,
    /// A hole at this byte of the file (not every block allocated).
    Hole(u64),
    /// An extent at this byte whose flags say it is not plain blocks.
    Flags { at: u64, what: &'static str },
    /// An extent at this byte not page-aligned on the device.
    Unaligned(u64),
    /// Fewer extents than the file's size needs.
    Short { have: u64, size: u64 },
}

impl core::fmt::Display for Refusal {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Refusal::Empty => f.write_str("it has no blocks (an empty file)"),
            Refusal::Hole(at) => write!(f, "it has a hole at byte {at}: every block must be allocated"),
            Refusal::Flags { at, what } => write!(f, "its extent at byte {at} is {what}"),
            Refusal::Unaligned(at) => write!(f, "its extent at byte {at} does not start on a page of the device"),
            Refusal::Short { have, size } => write!(f, "its extents cover {have} of its {size} bytes"),
        }
    }
}

/// What an extent's flags make it, if not plain allocated blocks.
fn bad_flags(flags: u32) -> Option<&'static str> {
    [
        (EXTENT_UNKNOWN, "of unknown place (the filesystem cannot say where it lies)"),
        (EXTENT_DELALLOC, "not allocated yet (delayed allocation): sync the file first"),
        (EXTENT_ENCODED | EXTENT_DATA_ENCRYPTED, "encoded (compressed or encrypted by the filesystem)"),
        (EXTENT_NOT_ALIGNED | EXTENT_DATA_INLINE | EXTENT_DATA_TAIL, "inline or packed with other data"),
        (EXTENT_SHARED, "shared with another file or a snapshot (btrfs reflink)"),
    ]
    .into_iter()
    .find_map(|(bits, what)| (flags & bits != 0).then_some(what))
}

/// Checks that `extents` (in logical order) lay the file's first `size`
/// bytes on the device as whole pages, with no hole and nothing but
/// plain allocated blocks (unwritten, preallocated extents are fine: the
/// image is written to and read from the device, never through the
/// filesystem). Returns the file's pages.
pub fn check(extents: &[Extent], size: u64) -> Result<u64, Refusal> {
    if extents.is_empty() {
        return Err(Refusal::Empty);
    }
    let mut at = 0u64;
    for e in extents {
        if e.logical != at {
            return Err(Refusal::Hole(at));
        }
        if let Some(what) = bad_flags(e.flags) {
            return Err(Refusal::Flags { at, what });
        }
        if e.physical % PAGE != 0 || e.logical % PAGE != 0 {
            return Err(Refusal::Unaligned(at));
        }
        at = at.checked_add(e.length).ok_or(Refusal::Hole(at))?;
    }
    if at < size {
        return Err(Refusal::Short { have: at, size });
    }
    Ok(size / PAGE)
}

/// The device pages of a checked file, in file order, from its page
/// `from` on: where the image's pages go (page 0 is the header).
pub struct Pages<'a> {
    extents: &'a [Extent],
    /// The extent and the page within it of the next page.
    i: usize,
    k: u64,
    /// File pages left to hand out.
    left: u64,
}

impl<'a> Pages<'a> {
    pub fn new(extents: &'a [Extent], pages: u64, from: u64) -> Pages<'a> {
        let mut p = Pages { extents, i: 0, k: 0, left: pages };
        for _ in 0..from {
            let _ = p.next();
        }
        p
    }

    /// File pages not handed out yet.
    pub fn left(&self) -> u64 {
        self.left
    }
}

impl Iterator for Pages<'_> {
    type Item = u64;

    fn next(&mut self) -> Option<u64> {
        while self.left > 0 {
            let e = self.extents.get(self.i)?;
            if self.k < e.length / PAGE {
                let page = e.physical / PAGE + self.k;
                self.k += 1;
                self.left -= 1;
                return Some(page);
            }
            (self.i, self.k) = (self.i + 1, 0);
        }
        None
    }
}

/// The size `--make-file` gives a file when not told: room for the
/// largest LZO image the kernel aims at (`/sys/power/image_size`, by
/// default two fifths of RAM), with the worst-case growth of
/// incompressible chunks and the swap map, and the header page; in whole
/// MiB. A larger image fails cleanly, the session going on.
pub fn default_pages(image_size_bytes: u64) -> u64 {
    let pages = image_size_bytes.div_ceil(PAGE);
    let slots = crate::writer::slots_needed(crate::swsusp::Compression::Lzo, pages) + 1;
    slots.next_multiple_of(256)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(logical: u64, physical: u64, length: u64, flags: u32) -> Extent {
        Extent { logical, physical, length, flags }
    }

    #[test]
    fn plain_preallocated_extents_are_a_place() {
        let ext = [e(0, 1 << 20, 8192, 0), e(8192, 4 << 20, 4096, 0x800), e(12288, 8 << 20, 4096, EXTENT_LAST)];
        assert_eq!(check(&ext, 16384), Ok(4));
        let pages: Vec<u64> = Pages::new(&ext, 4, 1).collect();
        assert_eq!(pages, [257, 1024, 2048], "file pages 1, 2, 3 on the device");
        assert_eq!(Pages::new(&ext, 4, 0).next(), Some(256), "the header page");
        assert_eq!(Pages::new(&ext, 4, 4).next(), None);
    }

    #[test]
    fn what_is_refused() {
        assert_eq!(check(&[], 4096), Err(Refusal::Empty));
        assert_eq!(check(&[e(0, 0, 4096, 0), e(8192, 4096, 4096, 0)], 12288), Err(Refusal::Hole(4096)));
        assert_eq!(check(&[e(0, 512, 4096, 0)], 4096), Err(Refusal::Unaligned(0)));
        assert_eq!(check(&[e(0, 0, 4096, 0)], 8192), Err(Refusal::Short { have: 4096, size: 8192 }));
        for (flags, word) in [(EXTENT_DELALLOC, "delayed"), (EXTENT_ENCODED, "encoded"), (EXTENT_DATA_INLINE, "inline"), (EXTENT_SHARED, "shared"), (EXTENT_UNKNOWN, "unknown")] {
            match check(&[e(0, 0, 4096, flags)], 4096) {
                Err(Refusal::Flags { at: 0, what }) => assert!(what.contains(word), "{what}"),
                r => panic!("{flags:#x}: {r:?}"),
            }
        }
    }

    #[test]
    fn default_size_holds_an_lzo_image_of_image_size() {
        let pages = default_pages(400 << 20);
        assert!(pages > (400 << 20) / 4096 && pages.is_multiple_of(256), "{pages}");
    }
}
