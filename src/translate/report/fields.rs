//! The fields set in a serialisable value, found by serialising it into nothing: a serde
//! `Serializer` that follows the field path, so that a task definition's unhandled fields are found
//! without building its JSON (`serde_json::to_value` and the walk of the result took a third of a
//! translation).
//!
//! A field is set when serde writes it and it is not null, an empty list or an empty object, as in
//! the JSON. The fields are returned in the order of the JSON object's keys (sorted, as
//! `serde_json::Value` keeps them), not in the order of the struct's fields.

use serde::ser::{self, Impossible, Serialize};

use super::probes::{IsEmpty, KeyText, Stop, constant};
use crate::manifest::{FieldPath, PathSeg};

/// What to do with a set field, given its pattern (`containerDefinitions[].image`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Visit {
    /// Handled with everything under it.
    Skip,
    /// Handled, or with handled fields under it: look at its fields.
    Descend,
    /// Not handled: report it.
    Report,
}

/// The fields of `value` that `classify` says to report, in JSON key order.
pub fn find<T: Serialize + ?Sized>(value: &T, classify: impl Fn(&str) -> Visit) -> Vec<FieldPath> {
    let mut state = State {
        classify: &classify,
        pattern: String::new(),
        keys: String::new(),
        segments: Vec::new(),
        found: Vec::new(),
    };
    // A value whose `Serialize` fails keeps what was found before the failure.
    let _ = value.serialize(Walker(&mut state));
    state.found.sort();
    state.found
}

/// One step of the current path: a key (a byte range of [`State::keys`]) or a list index.
#[derive(Debug, Clone, Copy)]
enum Segment {
    Key(usize, usize),
    Index(usize),
}

/// The walk: where it is, and what it found.
struct State<'c> {
    classify: &'c dyn Fn(&str) -> Visit,
    /// The current field's pattern (`containerDefinitions[].image`).
    pattern: String,
    /// The keys of the current field's path, end to end (the path is built from them only for a
    /// field that is reported).
    keys: String,
    /// The current field's path, keys as ranges of `keys`.
    segments: Vec<Segment>,
    found: Vec<FieldPath>,
}

impl State<'_> {
    fn path(&self) -> FieldPath {
        FieldPath(
            self.segments
                .iter()
                .map(|s| match *s {
                    Segment::Key(start, end) => PathSeg::Key(self.keys[start..end].to_owned()),
                    Segment::Index(i) => PathSeg::Index(i),
                })
                .collect(),
        )
    }

    /// Visits `value` as field `key` of the current object.
    fn field<T: Serialize + ?Sized>(&mut self, key: &str, value: &T) -> Result<(), Stop> {
        let mark = (self.pattern.len(), self.keys.len(), self.segments.len());
        if !self.pattern.is_empty() {
            self.pattern.push('.');
        }
        self.pattern.push_str(key);
        let start = self.keys.len();
        self.keys.push_str(key);
        self.segments.push(Segment::Key(start, self.keys.len()));
        let result = match (self.classify)(&self.pattern) {
            Visit::Skip => Ok(()),
            Visit::Descend => value.serialize(Walker(self)),
            Visit::Report => {
                // (`IsEmpty` fails on variants with data: objects, so set.)
                if !matches!(value.serialize(IsEmpty), Ok(true)) {
                    self.found.push(self.path());
                }
                Ok(())
            }
        };
        self.pattern.truncate(mark.0);
        self.keys.truncate(mark.1);
        self.segments.truncate(mark.2);
        result
    }

    /// Visits `value` as item `index` of the current list.
    fn item<T: Serialize + ?Sized>(&mut self, index: usize, value: &T) -> Result<(), Stop> {
        let mark = self.pattern.len();
        self.pattern.push_str("[]");
        self.segments.push(Segment::Index(index));
        let result = value.serialize(Walker(self));
        self.pattern.truncate(mark);
        self.segments.pop();
        result
    }
}

/// Serialises a value into the walk: objects' fields are visited, lists' items descended into,
/// everything else ignored.
struct Walker<'s, 'c>(&'s mut State<'c>);

/// A list being walked.
struct Items<'s, 'c> {
    state: &'s mut State<'c>,
    next: usize,
}

/// An object being walked (a struct, or a map with its pending key).
struct Fields<'s, 'c> {
    state: &'s mut State<'c>,
    key: Option<String>,
}

impl<'s, 'c> ser::Serializer for Walker<'s, 'c> {
    type Ok = ();
    type Error = Stop;
    type SerializeSeq = Items<'s, 'c>;
    type SerializeTuple = Items<'s, 'c>;
    type SerializeTupleStruct = Items<'s, 'c>;
    type SerializeTupleVariant = Impossible<(), Stop>;
    type SerializeMap = Fields<'s, 'c>;
    type SerializeStruct = Fields<'s, 'c>;
    type SerializeStructVariant = Impossible<(), Stop>;

    constant!(();
        serialize_bool: bool, serialize_i8: i8, serialize_i16: i16, serialize_i32: i32,
        serialize_i64: i64, serialize_u8: u8, serialize_u16: u16, serialize_u32: u32,
        serialize_u64: u64, serialize_f32: f32, serialize_f64: f64, serialize_char: char,
        serialize_str: &str, serialize_bytes: &[u8], serialize_unit_struct: &'static str,
    );

    fn serialize_none(self) -> Result<(), Stop> {
        Ok(())
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), Stop> {
        value.serialize(self)
    }

    fn serialize_unit(self) -> Result<(), Stop> {
        Ok(())
    }

    fn serialize_unit_variant(self, _: &'static str, _: u32, _: &'static str) -> Result<(), Stop> {
        Ok(())
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(self, _: &'static str, value: &T) -> Result<(), Stop> {
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<(), Stop> {
        self.0.field(variant, value)
    }

    fn serialize_seq(self, _: Option<usize>) -> Result<Items<'s, 'c>, Stop> {
        Ok(Items {
            state: self.0,
            next: 0,
        })
    }

    fn serialize_tuple(self, _: usize) -> Result<Items<'s, 'c>, Stop> {
        Ok(Items {
            state: self.0,
            next: 0,
        })
    }

    fn serialize_tuple_struct(self, _: &'static str, _: usize) -> Result<Items<'s, 'c>, Stop> {
        Ok(Items {
            state: self.0,
            next: 0,
        })
    }

    fn serialize_tuple_variant(
        self,
        name: &'static str,
        _: u32,
        variant: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, Stop> {
        Err(Stop(format!("{name}::{variant}: tuple variants are not walked")))
    }

    fn serialize_map(self, _: Option<usize>) -> Result<Fields<'s, 'c>, Stop> {
        Ok(Fields {
            state: self.0,
            key: None,
        })
    }

    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Fields<'s, 'c>, Stop> {
        Ok(Fields {
            state: self.0,
            key: None,
        })
    }

    fn serialize_struct_variant(
        self,
        name: &'static str,
        _: u32,
        variant: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, Stop> {
        Err(Stop(format!("{name}::{variant}: struct variants are not walked")))
    }
}

impl ser::SerializeSeq for Items<'_, '_> {
    type Ok = ();
    type Error = Stop;

    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Stop> {
        self.next += 1;
        self.state.item(self.next - 1, value)
    }

    fn end(self) -> Result<(), Stop> {
        Ok(())
    }
}

impl ser::SerializeTuple for Items<'_, '_> {
    type Ok = ();
    type Error = Stop;

    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Stop> {
        ser::SerializeSeq::serialize_element(self, value)
    }

    fn end(self) -> Result<(), Stop> {
        Ok(())
    }
}

impl ser::SerializeTupleStruct for Items<'_, '_> {
    type Ok = ();
    type Error = Stop;

    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Stop> {
        ser::SerializeSeq::serialize_element(self, value)
    }

    fn end(self) -> Result<(), Stop> {
        Ok(())
    }
}

impl ser::SerializeMap for Fields<'_, '_> {
    type Ok = ();
    type Error = Stop;

    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), Stop> {
        self.key = Some(key.serialize(KeyText)?);
        Ok(())
    }

    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Stop> {
        let key = self
            .key
            .take()
            .ok_or_else(|| Stop("a map value without its key".to_owned()))?;
        self.state.field(&key, value)
    }

    fn end(self) -> Result<(), Stop> {
        Ok(())
    }
}

impl ser::SerializeStruct for Fields<'_, '_> {
    type Ok = ();
    type Error = Stop;

    fn serialize_field<T: Serialize + ?Sized>(&mut self, key: &'static str, value: &T) -> Result<(), Stop> {
        self.state.field(key, value)
    }

    fn end(self) -> Result<(), Stop> {
        Ok(())
    }
}
