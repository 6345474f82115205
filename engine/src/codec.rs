//! The one place that configures bincode. Every encoded byte of licsim goes through [`config`]:
//! bincode 2.0.1, little endian, variable-length integers, no limit here (the log decoder bounds
//! sizes itself before it allocates).

use bincode::config::{Configuration, LittleEndian, NoLimit, Varint};

pub type Config = Configuration<LittleEndian, Varint, NoLimit>;

/// The fixed, explicit bincode configuration.
pub const fn config() -> Config {
    bincode::config::standard()
        .with_little_endian()
        .with_variable_int_encoding()
        .with_no_limit()
}

/// Encodes a value with [`config`].
pub fn encode<T: bincode::Encode>(value: &T) -> Vec<u8> {
    bincode::encode_to_vec(value, config()).expect("encoding into a Vec cannot fail")
}

/// Appends the encoding of a value to `out`.
pub fn encode_into<T: bincode::Encode>(value: &T, out: &mut Vec<u8>) {
    bincode::encode_into_std_write(value, out, config()).expect("encoding into a Vec cannot fail");
}

/// Decodes a value that must fill `bytes` exactly.
pub fn decode_exact<T: bincode::Decode<()>>(bytes: &[u8]) -> Result<T, String> {
    let (v, n) = bincode::decode_from_slice(bytes, config()).map_err(|e| e.to_string())?;
    if n != bytes.len() {
        return Err(format!("{} trailing bytes", bytes.len() - n));
    }
    Ok(v)
}
