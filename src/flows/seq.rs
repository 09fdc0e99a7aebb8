//! TCP sequence numbers: 32-bit values compared modulo 2^32 (RFC 9293 section 3.4).

use std::fmt;

/// A sequence or acknowledgment number. Never compare two with `<`: use [`SeqNum::is_before`]
/// or [`SeqNum::diff`], which are correct across wraparound for distances below 2^31.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SeqNum(pub u32);

impl SeqNum {
    /// Signed distance `self - other`.
    #[inline]
    pub fn diff(self, other: SeqNum) -> i64 {
        i64::from(self.0.wrapping_sub(other.0) as i32)
    }

    /// `self` comes strictly before `other` in sequence space.
    #[inline]
    pub fn is_before(self, other: SeqNum) -> bool {
        self.diff(other) < 0
    }

    /// `self` comes strictly after `other` in sequence space.
    #[inline]
    pub fn is_after(self, other: SeqNum) -> bool {
        self.diff(other) > 0
    }
}

/// `seq + n` wraps modulo 2^32.
impl std::ops::Add<u32> for SeqNum {
    type Output = SeqNum;
    #[inline]
    fn add(self, n: u32) -> SeqNum {
        SeqNum(self.0.wrapping_add(n))
    }
}

impl fmt::Debug for SeqNum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SeqNum({})", self.0)
    }
}

impl fmt::Display for SeqNum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comparisons_hold_across_wraparound() {
        let near_top = SeqNum(u32::MAX - 10);
        let wrapped = near_top + 20;
        assert_eq!(wrapped, SeqNum(9));
        assert!(near_top.is_before(wrapped));
        assert!(wrapped.is_after(near_top));
        assert_eq!(wrapped.diff(near_top), 20);
        assert_eq!(near_top.diff(wrapped), -20);
    }

    #[test]
    fn half_the_space_apart_is_the_boundary() {
        let a = SeqNum(0);
        assert!(a.is_before(SeqNum(0x7fff_ffff)));
        // 2^31 apart is ambiguous; i32 arithmetic calls it "before" in the other direction.
        assert!(SeqNum(0x8000_0000).is_before(a));
        assert!(!a.is_before(a) && !a.is_after(a));
    }
}
