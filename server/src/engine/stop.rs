//! Stop sequences over streamed text: text is released only once it cannot be the start of
//! a stop sequence, so a client never sees part of one.

/// The text a sequence has generated, filtered through its stop sequences.
#[derive(Debug, Default)]
pub struct StopFilter {
    stops: Vec<String>,
    /// Generated text not released yet: a suffix that may begin a stop sequence.
    held: String,
}

/// What [`StopFilter::push`] released.
#[derive(Debug, PartialEq, Eq)]
pub enum Released {
    /// Text that is final (may be empty); generation goes on.
    Text(String),
    /// A stop sequence appeared: the text before it; generation ends.
    Stopped(String),
}

impl StopFilter {
    pub fn new(stops: Vec<String>) -> StopFilter {
        StopFilter {
            stops,
            held: String::new(),
        }
    }

    /// Add newly generated text.
    pub fn push(&mut self, text: &str) -> Released {
        self.held.push_str(text);
        if self.stops.is_empty() {
            return Released::Text(core::mem::take(&mut self.held));
        }
        if let Some(at) = self
            .stops
            .iter()
            .filter_map(|s| self.held.find(s.as_str()))
            .min()
        {
            self.held.truncate(at);
            return Released::Stopped(core::mem::take(&mut self.held));
        }
        // Hold back the longest suffix that is a proper prefix of some stop sequence.
        let keep_from = self
            .held
            .char_indices()
            .map(|(i, _)| i)
            .find(|&i| {
                let tail = &self.held[i..];
                self.stops.iter().any(|s| s.starts_with(tail))
            })
            .unwrap_or(self.held.len());
        let rest = self.held.split_off(keep_from);
        Released::Text(core::mem::replace(&mut self.held, rest))
    }

    /// Generation ended without a stop sequence: whatever is held is final.
    pub fn finish(&mut self) -> String {
        core::mem::take(&mut self.held)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_held_only_while_it_may_start_a_stop_sequence() {
        let mut f = StopFilter::new(vec!["\n\nUser:".into(), "END".into()]);
        assert_eq!(f.push("Hello"), Released::Text("Hello".into()));
        assert_eq!(f.push(" wor"), Released::Text(" wor".into()));
        assert_eq!(f.push("ld\n"), Released::Text("ld".into()));
        assert_eq!(f.push("\nUs"), Released::Text(String::new()));
        assert_eq!(f.push("ually"), Released::Text("\n\nUsually".into()));
        assert_eq!(f.push(" E"), Released::Text(" ".into()));
        assert_eq!(f.push("NDING"), Released::Stopped(String::new()));
    }

    #[test]
    fn a_stop_inside_one_piece_cuts_it() {
        let mut f = StopFilter::new(vec!["ab".into()]);
        assert_eq!(f.push("xxabyy"), Released::Stopped("xx".into()));
        let mut f = StopFilter::new(vec!["é!".into()]);
        assert_eq!(f.push("caf"), Released::Text("caf".into()));
        assert_eq!(f.push("é"), Released::Text(String::new()));
        assert_eq!(f.finish(), "é");
    }

    #[test]
    fn no_stops_release_everything() {
        let mut f = StopFilter::new(Vec::new());
        assert_eq!(f.push("a\n"), Released::Text("a\n".into()));
        assert_eq!(f.finish(), "");
    }
}
