//! Serialisers that answer one question about a value without building it: whether its JSON
//! would be empty ([`IsEmpty`]), and a map key's text ([`KeyText`]); and the error of a walk
//! ([`Stop`]). Used by the field walk ([`super::fields`]).

use std::fmt;

use serde::ser::{self, Impossible, Serialize};

/// `Serializer` methods that answer `$answer` whatever the value.
macro_rules! constant {
    ($answer:expr; $($method:ident: $ty:ty),* $(,)?) => {
        $(fn $method(self, _: $ty) -> Result<Self::Ok, Self::Error> { Ok($answer) })*
    };
}
pub(super) use constant;

/// `Serializer` methods that answer the value's text.
macro_rules! text {
    ($($method:ident: $ty:ty),* $(,)?) => {
        $(fn $method(self, v: $ty) -> Result<String, Stop> { Ok(v.to_string()) })*
    };
}

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

    // Scalars are set.
    constant!(false;
        serialize_bool: bool, serialize_i8: i8, serialize_i16: i16, serialize_i32: i32,
        serialize_i64: i64, serialize_u8: u8, serialize_u16: u16, serialize_u32: u32,
        serialize_u64: u64, serialize_f32: f32, serialize_f64: f64, serialize_char: char,
        serialize_str: &str, serialize_bytes: &[u8],
    );
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

/// `AnyItem` as a list-like serialiser: any item makes it non-empty.
macro_rules! any_item {
    ($($trait:ident :: $method:ident),*) => {$(
        impl ser::$trait for AnyItem {
            type Ok = bool;
            type Error = Stop;
            fn $method<T: Serialize + ?Sized>(&mut self, _: &T) -> Result<(), Stop> {
                self.0 = true;
                Ok(())
            }
            fn end(self) -> Result<bool, Stop> {
                Ok(!self.0)
            }
        }
    )*};
}

any_item!(
    SerializeSeq::serialize_element,
    SerializeTuple::serialize_element,
    SerializeTupleStruct::serialize_field
);

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
    text!(
        serialize_char: char, serialize_bool: bool, serialize_i8: i8, serialize_i16: i16,
        serialize_i32: i32, serialize_i64: i64, serialize_u8: u8, serialize_u16: u16,
        serialize_u32: u32, serialize_u64: u64, serialize_f32: f32, serialize_f64: f64,
    );
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
