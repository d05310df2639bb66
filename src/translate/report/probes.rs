//! Serialisers that answer one question about a value without building it: whether its JSON
//! would be empty ([`IsEmpty`]), and a map key's text ([`KeyText`]); and the error of a walk
//! ([`Stop`]). Used by the field walk ([`super::fields`]).

use std::fmt;

use serde::ser::{self, Impossible, Serialize};

/// The walk's error: a value's own `Serialize` failed.
#[derive(Debug)]
pub struct Stop(pub(super) String);

impl fmt::Display for Stop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Stop {}

impl ser::Error for Stop {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Self(msg.to_string())
    }
}

/// Whether a value is absent from the JSON's point of view: null, an empty list or an empty
/// object (a struct with no field written).
pub(super) struct IsEmpty;

/// A list or object being checked for emptiness.
pub(super) struct AnyItem(bool);

impl ser::Serializer for IsEmpty {
    type Ok = bool;
    type Error = Stop;
    type SerializeSeq = AnyItem;
    type SerializeTuple = AnyItem;
    type SerializeTupleStruct = AnyItem;
    type SerializeTupleVariant = Impossible<bool, Stop>;
    type SerializeMap = AnyItem;
    type SerializeStruct = AnyItem;
    type SerializeStructVariant = Impossible<bool, Stop>;

    fn serialize_bool(self, _: bool) -> Result<bool, Stop> {
        Ok(false)
    }
    fn serialize_i8(self, _: i8) -> Result<bool, Stop> {
        Ok(false)
    }
    fn serialize_i16(self, _: i16) -> Result<bool, Stop> {
        Ok(false)
    }
    fn serialize_i32(self, _: i32) -> Result<bool, Stop> {
        Ok(false)
    }
    fn serialize_i64(self, _: i64) -> Result<bool, Stop> {
        Ok(false)
    }
    fn serialize_u8(self, _: u8) -> Result<bool, Stop> {
        Ok(false)
    }
    fn serialize_u16(self, _: u16) -> Result<bool, Stop> {
        Ok(false)
    }
    fn serialize_u32(self, _: u32) -> Result<bool, Stop> {
        Ok(false)
    }
    fn serialize_u64(self, _: u64) -> Result<bool, Stop> {
        Ok(false)
    }
    fn serialize_f32(self, _: f32) -> Result<bool, Stop> {
        Ok(false)
    }
    fn serialize_f64(self, _: f64) -> Result<bool, Stop> {
        Ok(false)
    }
    fn serialize_char(self, _: char) -> Result<bool, Stop> {
        Ok(false)
    }
    fn serialize_str(self, _: &str) -> Result<bool, Stop> {
        Ok(false)
    }
    fn serialize_bytes(self, _: &[u8]) -> Result<bool, Stop> {
        Ok(false)
    }
    fn serialize_none(self) -> Result<bool, Stop> {
        Ok(true)
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<bool, Stop> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<bool, Stop> {
        Ok(true)
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result<bool, Stop> {
        Ok(true)
    }
    fn serialize_unit_variant(self, _: &'static str, _: u32, _: &'static str) -> Result<bool, Stop> {
        Ok(false)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        value: &T,
    ) -> Result<bool, Stop> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<bool, Stop> {
        Ok(false)
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<AnyItem, Stop> {
        Ok(AnyItem(false))
    }
    fn serialize_tuple(self, _: usize) -> Result<AnyItem, Stop> {
        Ok(AnyItem(false))
    }
    fn serialize_tuple_struct(self, _: &'static str, _: usize) -> Result<AnyItem, Stop> {
        Ok(AnyItem(false))
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, Stop> {
        // `{"Variant": [...]}`: an object with a key, so not empty (the caller reads an error so).
        Err(Stop(String::new()))
    }
    fn serialize_map(self, _: Option<usize>) -> Result<AnyItem, Stop> {
        Ok(AnyItem(false))
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> Result<AnyItem, Stop> {
        Ok(AnyItem(false))
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, Stop> {
        Err(Stop(String::new()))
    }
}

impl ser::SerializeSeq for AnyItem {
    type Ok = bool;
    type Error = Stop;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, _: &T) -> Result<(), Stop> {
        self.0 = true;
        Ok(())
    }
    fn end(self) -> Result<bool, Stop> {
        Ok(!self.0)
    }
}

impl ser::SerializeTuple for AnyItem {
    type Ok = bool;
    type Error = Stop;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, _: &T) -> Result<(), Stop> {
        self.0 = true;
        Ok(())
    }
    fn end(self) -> Result<bool, Stop> {
        Ok(!self.0)
    }
}

impl ser::SerializeTupleStruct for AnyItem {
    type Ok = bool;
    type Error = Stop;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, _: &T) -> Result<(), Stop> {
        self.0 = true;
        Ok(())
    }
    fn end(self) -> Result<bool, Stop> {
        Ok(!self.0)
    }
}

impl ser::SerializeMap for AnyItem {
    type Ok = bool;
    type Error = Stop;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, _: &T) -> Result<(), Stop> {
        self.0 = true;
        Ok(())
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, _: &T) -> Result<(), Stop> {
        Ok(())
    }
    fn end(self) -> Result<bool, Stop> {
        Ok(!self.0)
    }
}

impl ser::SerializeStruct for AnyItem {
    type Ok = bool;
    type Error = Stop;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, _: &'static str, _: &T) -> Result<(), Stop> {
        self.0 = true;
        Ok(())
    }
    fn end(self) -> Result<bool, Stop> {
        Ok(!self.0)
    }
}

/// A map key as the JSON writes it: strings as they are, numbers and characters as text.
pub(super) struct KeyText;

impl ser::Serializer for KeyText {
    type Ok = String;
    type Error = Stop;
    type SerializeSeq = Impossible<String, Stop>;
    type SerializeTuple = Impossible<String, Stop>;
    type SerializeTupleStruct = Impossible<String, Stop>;
    type SerializeTupleVariant = Impossible<String, Stop>;
    type SerializeMap = Impossible<String, Stop>;
    type SerializeStruct = Impossible<String, Stop>;
    type SerializeStructVariant = Impossible<String, Stop>;

    fn serialize_str(self, v: &str) -> Result<String, Stop> {
        Ok(v.to_owned())
    }
    fn serialize_char(self, v: char) -> Result<String, Stop> {
        Ok(v.to_string())
    }
    fn serialize_bool(self, v: bool) -> Result<String, Stop> {
        Ok(v.to_string())
    }
    fn serialize_i8(self, v: i8) -> Result<String, Stop> {
        Ok(v.to_string())
    }
    fn serialize_i16(self, v: i16) -> Result<String, Stop> {
        Ok(v.to_string())
    }
    fn serialize_i32(self, v: i32) -> Result<String, Stop> {
        Ok(v.to_string())
    }
    fn serialize_i64(self, v: i64) -> Result<String, Stop> {
        Ok(v.to_string())
    }
    fn serialize_u8(self, v: u8) -> Result<String, Stop> {
        Ok(v.to_string())
    }
    fn serialize_u16(self, v: u16) -> Result<String, Stop> {
        Ok(v.to_string())
    }
    fn serialize_u32(self, v: u32) -> Result<String, Stop> {
        Ok(v.to_string())
    }
    fn serialize_u64(self, v: u64) -> Result<String, Stop> {
        Ok(v.to_string())
    }
    fn serialize_f32(self, v: f32) -> Result<String, Stop> {
        Ok(v.to_string())
    }
    fn serialize_f64(self, v: f64) -> Result<String, Stop> {
        Ok(v.to_string())
    }
    fn serialize_unit_variant(self, _: &'static str, _: u32, variant: &'static str) -> Result<String, Stop> {
        Ok(variant.to_owned())
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        value: &T,
    ) -> Result<String, Stop> {
        value.serialize(self)
    }
    fn serialize_bytes(self, _: &[u8]) -> Result<String, Stop> {
        Err(Stop("a map key that is bytes".to_owned()))
    }
    fn serialize_none(self) -> Result<String, Stop> {
        Err(Stop("a map key that is null".to_owned()))
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<String, Stop> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<String, Stop> {
        Err(Stop("a map key that is null".to_owned()))
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result<String, Stop> {
        Err(Stop("a map key that is null".to_owned()))
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<String, Stop> {
        Err(Stop("a map key that is an object".to_owned()))
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq, Stop> {
        Err(Stop("a map key that is a list".to_owned()))
    }
    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, Stop> {
        Err(Stop("a map key that is a list".to_owned()))
    }
    fn serialize_tuple_struct(self, _: &'static str, _: usize) -> Result<Self::SerializeTupleStruct, Stop> {
        Err(Stop("a map key that is a list".to_owned()))
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, Stop> {
        Err(Stop("a map key that is an object".to_owned()))
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, Stop> {
        Err(Stop("a map key that is an object".to_owned()))
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Self::SerializeStruct, Stop> {
        Err(Stop("a map key that is an object".to_owned()))
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, Stop> {
        Err(Stop("a map key that is an object".to_owned()))
    }
}
