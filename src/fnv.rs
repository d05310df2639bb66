//! FNV-1a, 64 bits: the one hash behind ecs-bridge's generated names, ids and content hashes.
//!
//! Its values are stored in the cluster (object names, annotations, ECS ids), so they must be
//! the same across Rust versions, platforms and runs, which `std`'s hasher does not promise.
//! Changing this function renames objects and re-applies every workload: don't.

/// The FNV-1a 64-bit offset basis.
pub const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
/// The FNV-1a 64-bit prime.
const PRIME: u64 = 0x0000_0100_0000_01b3;

/// FNV-1a of `bytes`, starting from `seed` ([`OFFSET`] for the standard hash; another seed gives
/// an independent second hash where 64 bits are not enough).
#[must_use]
pub fn hash_from(seed: u64, bytes: impl IntoIterator<Item = u8>) -> u64 {
    bytes
        .into_iter()
        .fold(seed, |h, b| (h ^ u64::from(b)).wrapping_mul(PRIME))
}

/// FNV-1a (64 bits) of `bytes`.
#[must_use]
pub fn hash(bytes: impl IntoIterator<Item = u8>) -> u64 {
    hash_from(OFFSET, bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_published_test_vectors() {
        // From the FNV reference test suite (Fowler, Noll, Vo: test_fnv.c, FNV-1a 64).
        assert_eq!(hash(*b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(hash(*b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(hash(*b"foobar"), 0x8594_4171_f739_67e8);
    }
}
