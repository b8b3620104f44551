//! A little-endian cursor that checks every read against what remains.
//!
//! It knows two lengths: the bytes available now (`buf`) and the length of the whole file
//! (`file_len`). A read past `file_len` is a truncation; a read past `buf` but within the file is
//! "need more bytes", which a streaming caller answers by waiting for more of the file.

use super::error::GgufError;

pub(crate) struct Cursor<'a> {
    buf: &'a [u8],
    pos: u64,
    file_len: u64,
}

impl<'a> Cursor<'a> {
    pub fn new(buf: &'a [u8], file_len: u64) -> Self {
        Cursor {
            buf,
            pos: 0,
            file_len,
        }
    }

    pub fn pos(&self) -> u64 {
        self.pos
    }

    /// Bytes left in the whole file after the cursor: the bound for every count.
    pub fn remaining_in_file(&self) -> u64 {
        self.file_len.saturating_sub(self.pos)
    }

    /// Bytes after the cursor that are actually in the buffer: the bound for preallocation, so
    /// that a count which the file could hold but the bytes seen so far do not cannot make us
    /// reserve memory the input has not justified yet.
    pub fn remaining_in_buf(&self) -> u64 {
        (self.buf.len() as u64).saturating_sub(self.pos)
    }

    /// Takes `n` bytes; `what` names the field for the error (built only on failure).
    pub fn take(&mut self, n: u64, what: impl FnOnce() -> String) -> Result<&'a [u8], GgufError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.file_len)
            .ok_or_else(|| GgufError::Truncated {
                offset: self.pos,
                what: what(),
                needed: n,
                file_len: self.file_len,
            })?;
        if end > self.buf.len() as u64 {
            return Err(GgufError::NeedMore { needed: end });
        }
        // Both bounds are <= buf.len(), so they fit usize.
        let slice = &self.buf[self.pos as usize..end as usize];
        self.pos = end;
        Ok(slice)
    }

    pub fn array<const N: usize>(
        &mut self,
        what: impl FnOnce() -> String,
    ) -> Result<[u8; N], GgufError> {
        let s = self.take(N as u64, what)?;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }

    pub fn u32(&mut self, what: impl FnOnce() -> String) -> Result<u32, GgufError> {
        self.array::<4>(what).map(u32::from_le_bytes)
    }

    pub fn u64(&mut self, what: impl FnOnce() -> String) -> Result<u64, GgufError> {
        self.array::<8>(what).map(u64::from_le_bytes)
    }

    /// A GGUF string: u64 length then UTF-8 bytes. The length is bounded by the file first.
    pub fn string(&mut self, what: impl Fn() -> String) -> Result<String, GgufError> {
        let at = self.pos;
        let len = self.u64(|| format!("length of {}", what()))?;
        if len > self.remaining_in_file() {
            return Err(GgufError::CountTooLarge {
                offset: at,
                what: format!("length of {}", what()),
                count: len,
                max: self.remaining_in_file(),
            });
        }
        let bytes = self.take(len, &what)?;
        String::from_utf8(bytes.to_vec()).map_err(|_| GgufError::InvalidUtf8 {
            offset: at + 8,
            what: what(),
        })
    }
}
