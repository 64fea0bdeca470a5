/// Visibility before the `n`th receive is tried again: 30 s doubling to a
/// 15-minute ceiling, so a capacity shortage is retried for hours without
/// ever parking a job for the queue's 12-hour visibility.
pub fn backoff_seconds(receive_count: u32) -> i32 {
    let exp = receive_count.saturating_sub(1).min(5);
    (30 * (1 << exp)).min(900)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_to_a_ceiling() {
        let seq: Vec<i32> = (1..=8).map(backoff_seconds).collect();
        assert_eq!(seq, [30, 60, 120, 240, 480, 900, 900, 900]);
        assert_eq!(backoff_seconds(0), 30);
    }
}
