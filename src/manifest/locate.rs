//! Finding where a field is written in YAML or JSON text, for messages with line and column.

use yaml_rust2::{
    Event,
    parser::{MarkedEventReceiver, Parser},
    scanner::Marker,
};

use super::{path::FieldPath, path::PathSeg};

/// The 1-based (line, column) of the field at `path` in `text` (of its key, for an object
/// member), or of the deepest enclosing field that exists when `path` does not.
#[must_use]
pub fn locate(text: &str, path: &FieldPath) -> Option<(usize, usize)> {
    let mut loc = Locator {
        target: &path.0,
        stack: Vec::new(),
        best: None,
        done: false,
    };
    let mut parser = Parser::new_from_str(text);
    // A syntax error simply ends the search: we report what was found before it.
    let _ = parser.load(&mut loc, false);
    loc.best.map(|(_, m)| (m.line(), m.col() + 1))
}

enum Frame {
    Map {
        key: Option<String>,
        expecting_key: bool,
        started: bool,
    },
    Seq {
        index: usize,
    },
}

struct Locator<'a> {
    target: &'a [PathSeg],
    stack: Vec<Frame>,
    /// Deepest match so far: (matched depth, marker).
    best: Option<(usize, Marker)>,
    done: bool,
}

impl Locator<'_> {
    /// Path segments to the node about to start (or the key just read).
    fn current(&self) -> Vec<PathSeg> {
        self.stack
            .iter()
            .filter_map(|f| match f {
                Frame::Map { key: Some(k), .. } => Some(PathSeg::Key(k.clone())),
                Frame::Map { key: None, .. } => None,
                Frame::Seq { index } => Some(PathSeg::Index(*index)),
            })
            .collect()
    }

    fn consider(&mut self, mark: Marker) {
        let cur = self.current();
        if cur.len() > self.target.len() || self.target[..cur.len()] != cur[..] {
            return;
        }
        if self.best.as_ref().is_none_or(|(depth, _)| cur.len() > *depth) {
            self.best = Some((cur.len(), mark));
        }
        if cur.len() == self.target.len() {
            self.done = true;
        }
    }

    /// A value finished: move the enclosing container to its next slot.
    fn advance(&mut self) {
        match self.stack.last_mut() {
            Some(Frame::Map {
                key, expecting_key, ..
            }) => {
                *key = None;
                *expecting_key = true;
            }
            Some(Frame::Seq { index }) => *index += 1,
            None => {}
        }
    }

    fn expecting_key(&self) -> bool {
        matches!(
            self.stack.last(),
            Some(Frame::Map {
                expecting_key: true,
                ..
            })
        )
    }
}

impl MarkedEventReceiver for Locator<'_> {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        if self.done {
            return;
        }
        match ev {
            Event::Scalar(value, ..) => {
                if self.expecting_key() {
                    // The first key of a mapping stands for the mapping itself: block mappings
                    // start where their first key is written.
                    if let Some(Frame::Map {
                        started: started @ false,
                        ..
                    }) = self.stack.last_mut()
                    {
                        *started = true;
                        let frame = self.stack.pop();
                        self.consider(mark);
                        self.stack.extend(frame);
                    }
                    if let Some(Frame::Map {
                        key, expecting_key, ..
                    }) = self.stack.last_mut()
                    {
                        *key = Some(value);
                        *expecting_key = false;
                    }
                    self.consider(mark);
                } else {
                    self.consider(mark);
                    self.advance();
                }
            }
            Event::Alias(_) => {
                self.consider(mark);
                self.advance();
            }
            Event::MappingStart(..) => {
                self.stack.push(Frame::Map {
                    key: None,
                    expecting_key: true,
                    started: false,
                });
            }
            Event::SequenceStart(..) => {
                self.consider(mark);
                self.stack.push(Frame::Seq { index: 0 });
            }
            Event::MappingEnd | Event::SequenceEnd => {
                self.stack.pop();
                self.advance();
            }
            Event::DocumentEnd => self.done = true,
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(s: &[&str]) -> FieldPath {
        FieldPath(
            s.iter()
                .map(|x| {
                    x.parse::<usize>()
                        .map_or_else(|_| PathSeg::Key((*x).to_owned()), PathSeg::Index)
                })
                .collect(),
        )
    }

    #[test]
    fn finds_keys_in_block_yaml() {
        let text = "spec:\n  containerDefinitions:\n  - name: a\n    cpu: x\n  - name: b\n    image: nginx\n";
        assert_eq!(
            locate(text, &path(&["spec", "containerDefinitions", "0", "cpu"])),
            Some((4, 5))
        );
        assert_eq!(
            locate(text, &path(&["spec", "containerDefinitions", "1", "image"])),
            Some((6, 5))
        );
        assert_eq!(
            locate(text, &path(&["spec", "containerDefinitions", "1"])),
            Some((5, 5))
        );
    }

    #[test]
    fn finds_keys_in_json() {
        let text = "{\n  \"family\": \"web\",\n  \"containerDefinitions\": [\n    {\"name\": \"a\", \"cpu\": \"x\"}\n  ]\n}\n";
        assert_eq!(
            locate(text, &path(&["containerDefinitions", "0", "cpu"])),
            Some((4, 19))
        );
        assert_eq!(locate(text, &path(&["family"])), Some((2, 3)));
    }

    #[test]
    fn falls_back_to_the_deepest_existing_parent() {
        let text = "a:\n  b:\n    c: 1\n";
        assert_eq!(locate(text, &path(&["a", "b", "zz"])), Some((2, 3)));
        assert_eq!(locate(text, &path(&["nope"])), Some((1, 1)));
    }
}
