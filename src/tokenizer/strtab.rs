//! An interning string table: strings stored once in one buffer, looked up by an open-addressing
//! hash index. Loading a 128k-token / 280k-merge vocabulary hashes ~700k strings, so this avoids
//! one heap allocation per string and SipHash (the default `HashMap` hasher) on the hot path.

pub struct StrTable {
    buf: Vec<u8>,
    /// End offset of string i in `buf` (start is the previous end).
    ends: Vec<u32>,
    /// Slot -> string id + 1 (0 = empty). Length is a power of two, at most half full.
    slots: Vec<u32>,
}

/// FNV-1a over 8-byte words, then a final mix: fast and good enough for token strings.
fn hash(s: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut chunks = s.chunks_exact(8);
    for c in &mut chunks {
        let w = u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
        h = (h ^ w).wrapping_mul(0x0000_0100_0000_01b3);
        h ^= h >> 29;
    }
    for &b in chunks.remainder() {
        h = (h ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3);
    }
    h ^= s.len() as u64;
    h = (h ^ (h >> 33)).wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^ (h >> 33)
}

impl StrTable {
    pub fn with_capacity(n_strings: usize, n_bytes: usize) -> StrTable {
        let cap = (n_strings.max(8) * 2).next_power_of_two();
        StrTable {
            buf: Vec::with_capacity(n_bytes),
            ends: Vec::with_capacity(n_strings),
            slots: vec![0; cap],
        }
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn get_str(&self, id: u32) -> &[u8] {
        let i = id as usize;
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        &self.buf[start..self.ends[i] as usize]
    }

    /// The id of `s`, if present.
    pub fn find(&self, s: &[u8]) -> Option<u32> {
        let mask = self.slots.len() - 1;
        let mut i = hash(s) as usize & mask;
        loop {
            let slot = self.slots[i];
            if slot == 0 {
                return None;
            }
            if self.get_str(slot - 1) == s {
                return Some(slot - 1);
            }
            i = (i + 1) & mask;
        }
    }

    /// The id of `s`, adding it if absent. Returns (id, was_new).
    pub fn intern(&mut self, s: &[u8]) -> (u32, bool) {
        if (self.ends.len() + 1) * 2 > self.slots.len() {
            self.grow();
        }
        let mask = self.slots.len() - 1;
        let mut i = hash(s) as usize & mask;
        loop {
            let slot = self.slots[i];
            if slot == 0 {
                break;
            }
            if self.get_str(slot - 1) == s {
                return (slot - 1, false);
            }
            i = (i + 1) & mask;
        }
        let id = self.ends.len() as u32;
        self.buf.extend_from_slice(s);
        self.ends.push(self.buf.len() as u32);
        self.slots[i] = id + 1;
        (id, true)
    }

    fn grow(&mut self) {
        let cap = self.slots.len() * 2;
        let mut slots = vec![0u32; cap];
        for id in 0..self.ends.len() as u32 {
            let mut i = hash(self.get_str(id)) as usize & (cap - 1);
            while slots[i] != 0 {
                i = (i + 1) & (cap - 1);
            }
            slots[i] = id + 1;
        }
        self.slots = slots;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn interns_and_finds() {
        let mut t = StrTable::with_capacity(2, 0);
        let words: Vec<String> = (0..1000).map(|i| format!("w{i}")).collect();
        for (i, w) in words.iter().enumerate() {
            assert_eq!(t.intern(w.as_bytes()), (i as u32, true));
        }
        assert_eq!(t.intern(b"w7"), (7, false));
        assert_eq!(t.find(b"w999"), Some(999));
        assert_eq!(t.find(b"nope"), None);
        assert_eq!(t.get_str(12), b"w12");
        assert_eq!(t.intern(b""), (1000, true));
        assert_eq!(t.find(b""), Some(1000));
        assert_eq!(t.len(), 1001);
    }
}
