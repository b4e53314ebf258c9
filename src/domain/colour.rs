//! The participant colour of LiveKit tokens (lobby-livekit §2.6): SHA-1 of the identity, its last
//! 16 bits seed CPython's Mersenne Twister (`init_by_array`), three `randint` draws give an HSL
//! colour. Reproduced bit for bit, without touching any process-wide generator.

use sha1::{Digest, Sha1};

const N: usize = 624;
const M: usize = 397;

/// A 32-bit MT19937 seeded as CPython's `random.seed(n)` does for `0 <= n < 2**32`.
pub struct Mt19937 {
    state: [u32; N],
    index: usize,
}

impl Mt19937 {
    fn init_genrand(seed: u32) -> [u32; N] {
        let mut mt = [0u32; N];
        mt[0] = seed;
        for i in 1..N {
            mt[i] = 1_812_433_253u32.wrapping_mul(mt[i - 1] ^ (mt[i - 1] >> 30)).wrapping_add(i as u32);
        }
        mt
    }

    /// The reference `init_by_array` (Matsumoto and Nishimura, 2002) with `key`.
    pub fn with_key(key: &[u32]) -> Mt19937 {
        let mut mt = Self::init_genrand(19_650_218);
        let len = key.len().max(1);
        let (mut i, mut j) = (1usize, 0usize);
        for _ in 0..N.max(len) {
            let prev = mt[i - 1] ^ (mt[i - 1] >> 30);
            let k = key.get(j).copied().unwrap_or(0);
            mt[i] = (mt[i] ^ prev.wrapping_mul(1_664_525)).wrapping_add(k).wrapping_add(j as u32);
            i += 1;
            j += 1;
            if i >= N {
                mt[0] = mt[N - 1];
                i = 1;
            }
            if j >= len {
                j = 0;
            }
        }
        for _ in 0..N - 1 {
            let prev = mt[i - 1] ^ (mt[i - 1] >> 30);
            mt[i] = (mt[i] ^ prev.wrapping_mul(1_566_083_941)).wrapping_sub(i as u32);
            i += 1;
            if i >= N {
                mt[0] = mt[N - 1];
                i = 1;
            }
        }
        mt[0] = 0x8000_0000;
        Mt19937 { state: mt, index: N }
    }

    fn twist(&mut self) {
        for i in 0..N {
            let y = (self.state[i] & 0x8000_0000) | (self.state[(i + 1) % N] & 0x7fff_ffff);
            let mut v = self.state[(i + M) % N] ^ (y >> 1);
            if y & 1 != 0 {
                v ^= 0x9908_b0df;
            }
            self.state[i] = v;
        }
        self.index = 0;
    }

    /// The next 32-bit output.
    pub fn next_u32(&mut self) -> u32 {
        if self.index >= N {
            self.twist();
        }
        let mut y = self.state[self.index];
        self.index += 1;
        y ^= y >> 11;
        y ^= (y << 7) & 0x9d2c_5680;
        y ^= (y << 15) & 0xefc6_0000;
        y ^ (y >> 18)
    }

    /// CPython's `_randbelow_with_getrandbits(n)` where `k = n.bit_length()`.
    fn below(&mut self, n: u32, k: u32) -> u32 {
        loop {
            let r = self.next_u32() >> (32 - k);
            if r < n {
                return r;
            }
        }
    }
}

/// The 16-bit seed of `s`: the last two bytes of its SHA-1 digest, big-endian.
pub fn seed(s: &str) -> u32 {
    let d = Sha1::digest(s.as_bytes());
    u32::from(d[18]) << 8 | u32::from(d[19])
}

/// `(H, S, L)` of `s`.
pub fn hsl(s: &str) -> (u32, u32, u32) {
    let mut rng = Mt19937::with_key(&[seed(s)]);
    let h = rng.below(361, 9);
    let sat = 50 + rng.below(26, 5);
    let l = 25 + rng.below(36, 6);
    (h, sat, l)
}

/// `hsl(H, S%, L%)` for `s` (the reference's `generate_color`).
pub fn colour(s: &str) -> String {
    let (h, sat, l) = hsl(s);
    format!("hsl({h}, {sat}%, {l}%)")
}

/// The token `metadata` string: `{"color": "<colour>"}` with Python's separators.
pub fn metadata(colour: &str) -> String {
    format!("{{\"color\": \"{colour}\"}}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generator_sanity_check() {
        let mut g = Mt19937::with_key(&[0]);
        assert_eq!([g.next_u32(), g.next_u32(), g.next_u32()], [3626764237, 1654615998, 3255389356]);
        let mut g = Mt19937::with_key(&[1]);
        assert_eq!([g.next_u32(), g.next_u32(), g.next_u32()], [577090037, 2444712010, 3639700191]);
    }

    #[test]
    fn tk_9_worked_examples() {
        let cases = [
            ("a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d", 6397, "hsl(114, 52%, 34%)"),
            ("alice", 51688, "hsl(311, 68%, 44%)"),
            ("0f5e8c3a1b2d4e6f8a9b0c1d2e3f4a5b", 6015, "hsl(283, 54%, 38%)"),
            ("Réunion", 24165, "hsl(67, 71%, 52%)"),
            ("", 1801, "hsl(55, 70%, 42%)"),
        ];
        for (input, s, expected) in cases {
            assert_eq!(seed(input), s, "seed of {input:?}");
            assert_eq!(colour(input), expected, "colour of {input:?}");
        }
    }

    #[test]
    fn traces_of_the_worked_examples() {
        // Example 3: every 32-bit output consumed, rejected draws included.
        let mut g = Mt19937::with_key(&[6015]);
        let outputs: Vec<u32> = (0..6).map(|_| g.next_u32()).collect();
        assert_eq!(outputs, [3453642732, 2374521359, 610213295, 4087986122, 876681345, outputs[5]]);
        // Example 2.
        let mut g = Mt19937::with_key(&[51688]);
        let outputs: Vec<u32> = (0..4).map(|_| g.next_u32()).collect();
        assert_eq!(outputs, [2612685526, 3795765230, 2488775140, 1328225997]);
    }

    #[test]
    fn tk_8_metadata_uses_python_separators() {
        assert_eq!(metadata("hsl(114, 52%, 34%)"), "{\"color\": \"hsl(114, 52%, 34%)\"}");
    }
}
