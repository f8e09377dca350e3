//! The Internet checksum (RFC 1071), used by IPv4, ICMP, UDP and GRE.

/// One's-complement sum of `data` folded to 16 bits, not yet inverted.
/// Odd-length data is padded with a zero byte, as RFC 1071 says.
pub fn sum(data: &[u8]) -> u16 {
    // Four bytes at a time into 64 bits: the one's-complement sum of the
    // 32-bit words folds to that of the 16-bit words (RFC 1071 2(B)).
    let mut acc: u64 = 0;
    let mut words = data.chunks_exact(4);
    for w in &mut words {
        acc += u64::from(u32::from_be_bytes([w[0], w[1], w[2], w[3]]));
    }
    let mut pairs = words.remainder().chunks_exact(2);
    for c in &mut pairs {
        acc += u64::from(u16::from_be_bytes([c[0], c[1]]));
    }
    if let [last] = pairs.remainder() {
        acc += u64::from(*last) << 8;
    }
    fold(acc)
}

/// Folds the carries of an accumulator into 16 bits.
pub fn fold(mut acc: u64) -> u16 {
    while acc >> 16 != 0 {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    acc as u16
}

/// Combines two partial sums.
pub fn combine(sums: &[u16]) -> u16 {
    fold(sums.iter().map(|&s| u64::from(s)).sum())
}

/// The checksum field value for `data` (whose own checksum field is zero).
pub fn checksum(data: &[u8]) -> u16 {
    !sum(data)
}

/// True when `data`, checksum field included, sums to all ones.
pub fn verify(data: &[u8]) -> bool {
    sum(data) == 0xffff
}

/// Sum of the IPv4 pseudo-header used by UDP (RFC 768).
pub fn pseudo_header(src: [u8; 4], dst: [u8; 4], protocol: u8, length: u16) -> u16 {
    let mut buf = [0u8; 12];
    buf[..4].copy_from_slice(&src);
    buf[4..8].copy_from_slice(&dst);
    buf[9] = protocol;
    buf[10..12].copy_from_slice(&length.to_be_bytes());
    sum(&buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc1071_example() {
        // RFC 1071 section 3: the sum of these words is ddf2.
        let data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(sum(&data), 0xddf2);
    }

    #[test]
    fn word_at_a_time_matches_rfc1071_two_bytes_at_a_time() {
        let data: Vec<u8> = (0..1501u32).map(|i| (i * 7919 % 256) as u8).collect();
        for len in [0, 1, 2, 3, 4, 5, 6, 7, 1499, 1500, 1501] {
            let d = &data[..len];
            let mut acc: u32 = 0;
            for c in d.chunks(2) {
                acc += u32::from(c[0]) << 8 | u32::from(*c.get(1).unwrap_or(&0));
            }
            assert_eq!(sum(d), fold(acc.into()), "{len} bytes");
        }
        assert_eq!(sum(&[0xff; 64]), 0xffff);
    }

    #[test]
    fn odd_length_pads_with_zero() {
        assert_eq!(sum(&[0x12]), 0x1200);
        assert_eq!(sum(&[0x12, 0x34, 0x56]), 0x1234 + 0x5600);
    }

    #[test]
    fn verify_accepts_own_checksum() {
        let mut data = [
            0x45, 0, 0, 20, 0, 0, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
        ];
        let c = checksum(&data);
        data[10..12].copy_from_slice(&c.to_be_bytes());
        assert!(verify(&data));
        data[0] ^= 1;
        assert!(!verify(&data));
    }
}
