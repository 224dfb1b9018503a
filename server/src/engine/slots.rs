//! KV-cache slots: one sequence of the run state per slot, and which free slot a new prompt
//! takes — the one whose cached tokens share the longest prefix with it, so a chat turn
//! that extends the previous one evaluates only its new tokens.

/// One sequence of the KV cache.
#[derive(Debug, Default)]
pub struct Slot {
    /// Tokens whose keys and values the cache holds, positions `0..cached.len()`.
    pub cached: Vec<u32>,
    /// Whether a request is using the slot.
    pub busy: bool,
}

/// Length of the common prefix of `a` and `b`.
pub fn common_prefix(a: &[u32], b: &[u32]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

/// The free slot for `prompt` and how many of its tokens are already cached there (at most
/// `prompt.len() - 1`: the last prompt token is always evaluated, for its logits). Among
/// slots with equal reuse, the first; `None` if every slot is busy.
pub fn choose(slots: &[Slot], prompt: &[u32]) -> Option<(usize, usize)> {
    let most = prompt.len().saturating_sub(1);
    slots
        .iter()
        .enumerate()
        .filter(|(_, s)| !s.busy)
        .map(|(i, s)| (i, common_prefix(&s.cached, prompt).min(most)))
        .max_by_key(|&(i, reuse)| (reuse, core::cmp::Reverse(i)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slot(cached: &[u32], busy: bool) -> Slot {
        Slot {
            cached: cached.to_vec(),
            busy,
        }
    }

    #[test]
    fn the_longest_cached_prefix_wins_and_the_last_token_is_always_evaluated() {
        let slots = [
            slot(&[1, 2], false),
            slot(&[1, 2, 3, 4, 5], true),
            slot(&[1, 2, 3], false),
            slot(&[], false),
        ];
        assert_eq!(choose(&slots, &[1, 2, 3, 9]), Some((2, 3)));
        // Slots 0 and 2 both save 2 tokens: the first wins, which also keeps slot 2's
        // longer cache for a prompt that needs it.
        assert_eq!(choose(&slots, &[1, 2, 3]), Some((0, 2)));
        assert_eq!(choose(&slots, &[7]), Some((0, 0)));
        let all_busy = [slot(&[], true)];
        assert_eq!(choose(&all_busy, &[1]), None);
    }
}
