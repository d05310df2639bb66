//! Sharing CPU and memory out (pure arithmetic for [`super::resources`]): ECS cpu units to
//! millicores, a total split as equally as caps allow, and millicores apportioned so that the
//! containers' shares add up to the task's rounded total.

/// 1024 ECS cpu units = 1 vCPU = 1000 millicores (rounded to the nearest millicore, at least 1).
pub(super) fn units_to_millis(units: i64) -> i64 {
    let units = units.max(0);
    ((units * 1000 + 512) / 1024).max(i64::from(units > 0))
}

/// Splits `total` as equally as possible among the entries, none above its cap; what a capped
/// entry cannot take goes to the others. Shares add up to at most `total` (exactly `total` when
/// some entry has no cap).
pub(super) fn split(total: i64, caps: &[Option<i64>]) -> Vec<i64> {
    let mut order: Vec<usize> = (0..caps.len()).collect();
    order.sort_by_key(|&i| (caps[i].is_none(), caps[i].unwrap_or(0)));
    let mut shares = vec![0; caps.len()];
    let mut remaining = total.max(0);
    for (pos, &i) in order.iter().enumerate() {
        let left = i64::try_from(order.len() - pos).unwrap_or(i64::MAX);
        let share = remaining / left + i64::from(remaining % left != 0);
        let give = caps[i].map_or(share, |cap| cap.min(share)).min(remaining);
        shares[i] = give;
        remaining -= give;
    }
    shares
}

/// CPU units → millicores for several containers at once: the total is rounded to the nearest
/// millicore (so it never exceeds the task's rounded value), and each container gets its exact
/// share rounded down or up, the largest remainders rounding up (a single container gets
/// exactly [`cpu_units_to_millis`]).
pub(super) fn apportion_millis(units: &[i64]) -> Vec<i64> {
    let total: i64 = units.iter().sum();
    let target = (total * 1000 + 512) / 1024;
    let mut millis: Vec<i64> = units.iter().map(|u| u * 1000 / 1024).collect();
    let mut extra = target - millis.iter().sum::<i64>();
    let mut order: Vec<usize> = (0..units.len())
        .filter(|&i| units[i] * 1000 % 1024 != 0)
        .collect();
    order.sort_by_key(|&i| (std::cmp::Reverse(units[i] * 1000 % 1024), i));
    for i in order {
        if extra <= 0 {
            break;
        }
        millis[i] += 1;
        extra -= 1;
    }
    millis
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_units_become_millicores() {
        assert_eq!(units_to_millis(1024), 1000);
        assert_eq!(units_to_millis(256), 250);
        assert_eq!(units_to_millis(1), 1);
        assert_eq!(units_to_millis(0), 0);
        assert_eq!(units_to_millis(100), 98);
    }

    #[test]
    fn split_is_equal_and_respects_caps() {
        assert_eq!(split(1000, &[None, None, None]), vec![334, 333, 333]);
        assert_eq!(split(10, &[Some(3), None]), vec![3, 7]);
        assert_eq!(
            split(10, &[Some(3), Some(2)]),
            vec![3, 2],
            "capped: the rest is left over"
        );
        assert_eq!(split(0, &[None, None]), vec![0, 0]);
        assert_eq!(split(5, &[]), Vec::<i64>::new());
    }

    #[test]
    fn apportioned_millicores_add_up_to_the_rounded_total() {
        assert_eq!(apportion_millis(&[256]), vec![250]);
        assert_eq!(apportion_millis(&[100]), vec![units_to_millis(100)]);
        assert_eq!(apportion_millis(&[341, 341, 342]), vec![333, 333, 334]);
        assert_eq!(apportion_millis(&[1, 1, 1]), vec![1, 1, 1]);
        assert_eq!(apportion_millis(&[0, 1024]), vec![0, 1000]);
    }
}
