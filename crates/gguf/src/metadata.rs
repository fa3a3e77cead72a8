//! Reading the GGUF header and its metadata key/value section.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::{Path, PathBuf};

use crate::{GgufError, Value, ValueType};

/// Longest string (key or value) accepted, in bytes: 64 MiB.
pub const MAX_STRING_LEN: u64 = 64 << 20;
/// Largest array element count accepted: 100 million.
pub const MAX_ARRAY_LEN: u64 = 100_000_000;
/// Largest metadata key/value count accepted: 1 million.
pub const MAX_KV_COUNT: u64 = 1_000_000;
/// Deepest nesting of arrays inside arrays accepted.
pub const MAX_ARRAY_DEPTH: usize = 8;

/// Elements reserved up front for an array, whatever its declared length: memory then
/// grows only with data actually read, so a corrupt length cannot force a huge allocation.
const MAX_PREALLOC: u64 = 4096;

/// The header and metadata of a GGUF file (tensor infos and data are not read).
#[derive(Debug, Clone)]
pub struct GgufMetadata {
    path: PathBuf,
    version: u32,
    tensor_count: u64,
    entries: Vec<(String, Value)>,
    index: HashMap<String, usize>,
}

/// The facts about a model most callers want, gathered from well-known metadata keys.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelSummary {
    /// GGUF format version (2 or 3).
    pub gguf_version: u32,
    /// Number of tensors declared in the header.
    pub tensor_count: u64,
    /// `general.architecture`, e.g. `"llama"`.
    pub architecture: Option<String>,
    /// `general.name`, if present.
    pub name: Option<String>,
    /// Length of `tokenizer.ggml.tokens` (0 if absent).
    pub vocab_size: usize,
    /// `tokenizer.ggml.model`, e.g. `"gpt2"` (byte-level BPE) or `"llama"` (SentencePiece).
    pub tokenizer_model: Option<String>,
    /// `tokenizer.ggml.pre`, the llama.cpp pre-tokenizer type, e.g. `"smollm"`.
    pub tokenizer_pre: Option<String>,
    /// `tokenizer.ggml.bos_token_id`.
    pub bos_token_id: Option<u32>,
    /// `tokenizer.ggml.eos_token_id`.
    pub eos_token_id: Option<u32>,
    /// `tokenizer.ggml.add_bos_token`.
    pub add_bos_token: Option<bool>,
    /// `tokenizer.chat_template` (a Jinja template).
    pub chat_template: Option<String>,
    /// `{architecture}.context_length`, the training context length.
    pub context_length: Option<u64>,
}

impl GgufMetadata {
    /// Reads the header and metadata of the GGUF file at `path`.
    pub fn read(path: &Path) -> Result<Self, GgufError> {
        let file = File::open(path).map_err(|source| GgufError::Io {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(BufReader::with_capacity(1 << 16, file), path.to_owned())
    }

    /// Reads the header and metadata from any reader; errors name the source `<reader>`.
    pub fn from_reader(reader: impl Read) -> Result<Self, GgufError> {
        Self::parse(BufReader::new(reader), PathBuf::from("<reader>"))
    }

    fn parse(reader: impl Read, path: PathBuf) -> Result<Self, GgufError> {
        let mut p = Parser {
            r: reader,
            offset: 0,
            path,
            ctx: String::from("header"),
        };
        if p.array::<4>("magic")? != *b"GGUF" {
            return Err(GgufError::BadMagic { path: p.path });
        }
        let version = u32::from_le_bytes(p.array("version")?);
        if !(2..=3).contains(&version) {
            return Err(GgufError::UnsupportedVersion {
                path: p.path,
                version,
            });
        }
        let tensor_count = u64::from_le_bytes(p.array("tensor count")?);
        let kv_count = p.length("metadata key/value count", MAX_KV_COUNT)?;

        let mut entries = Vec::with_capacity(kv_count.min(MAX_PREALLOC) as usize);
        let mut index = HashMap::with_capacity(entries.capacity());
        for i in 0..kv_count {
            p.ctx = format!("metadata entry {i}");
            let key_offset = p.offset;
            let key = p.string("key")?;
            p.ctx = format!("metadata key `{key}`");
            let value_type = p.value_type("value type")?;
            let value = p.value(value_type, 0)?;
            if index.contains_key(&key) {
                return Err(p.invalid(key_offset, "key", "duplicate key".into()));
            }
            index.insert(key.clone(), entries.len());
            entries.push((key, value));
        }
        Ok(Self {
            path: p.path,
            version,
            tensor_count,
            entries,
            index,
        })
    }

    /// The path the metadata was read from (`<reader>` for [`Self::from_reader`]).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// GGUF format version (2 or 3).
    pub fn version(&self) -> u32 {
        self.version
    }

    /// Number of tensors declared in the header.
    pub fn tensor_count(&self) -> u64 {
        self.tensor_count
    }

    /// Number of metadata entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no metadata entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// All entries, in file order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.entries.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// The value of `key`, if present.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.index.get(key).map(|&i| &self.entries[i].1)
    }

    /// The string value of `key` (`None` if absent or not a string).
    pub fn get_str(&self, key: &str) -> Option<&str> {
        self.get(key)?.as_str()
    }

    /// The value of `key` as `u64`, from any integer type (`None` if absent,
    /// not an integer, or negative).
    pub fn get_u64(&self, key: &str) -> Option<u64> {
        self.get(key)?.as_u64()
    }

    /// The value of `key` as `i64`, from any integer type that fits.
    pub fn get_i64(&self, key: &str) -> Option<i64> {
        self.get(key)?.as_i64()
    }

    /// The value of `key` as `f64`, from a float or integer type.
    pub fn get_f64(&self, key: &str) -> Option<f64> {
        self.get(key)?.as_f64()
    }

    /// The boolean value of `key`.
    pub fn get_bool(&self, key: &str) -> Option<bool> {
        self.get(key)?.as_bool()
    }

    /// The elements of the array value of `key`.
    pub fn get_array(&self, key: &str) -> Option<&[Value]> {
        self.get(key)?.as_array()
    }

    /// The array of strings at `key` (`None` if absent, not an array, or any element
    /// is not a string).
    pub fn get_str_array(&self, key: &str) -> Option<Vec<&str>> {
        self.get_array(key)?.iter().map(Value::as_str).collect()
    }

    /// The array of integers at `key`, any integer element type (`None` if absent, not an
    /// array, or any element is not an integer fitting in `i64`).
    pub fn get_i64_array(&self, key: &str) -> Option<Vec<i64>> {
        self.get_array(key)?.iter().map(Value::as_i64).collect()
    }

    /// Like the `get_*` helpers, but absent → `Ok(None)` and wrong type → an error.
    pub(crate) fn typed<'a, T>(
        &'a self,
        key: &str,
        expected: &str,
        convert: impl FnOnce(&'a Value) -> Option<T>,
    ) -> Result<Option<T>, GgufError> {
        let Some(value) = self.get(key) else {
            return Ok(None);
        };
        match convert(value) {
            Some(v) => Ok(Some(v)),
            None => Err(GgufError::WrongType {
                path: self.path.clone(),
                key: key.to_owned(),
                expected: expected.to_owned(),
                found: value.type_description(),
            }),
        }
    }

    /// Like [`Self::typed`], but absent is an error too.
    pub(crate) fn required<'a, T>(
        &'a self,
        key: &str,
        expected: &str,
        convert: impl FnOnce(&'a Value) -> Option<T>,
    ) -> Result<T, GgufError> {
        self.typed(key, expected, convert)?
            .ok_or_else(|| GgufError::MissingKey {
                path: self.path.clone(),
                key: key.to_owned(),
            })
    }

    /// Gathers architecture, vocabulary and special-token facts; absent keys give `None`.
    pub fn summary(&self) -> ModelSummary {
        let string = |key: &str| self.get_str(key).map(str::to_owned);
        let token_id = |key: &str| self.get_u64(key).and_then(|v| u32::try_from(v).ok());
        let architecture = string("general.architecture");
        let context_length = architecture
            .as_ref()
            .and_then(|arch| self.get_u64(&format!("{arch}.context_length")));
        ModelSummary {
            gguf_version: self.version,
            tensor_count: self.tensor_count,
            name: string("general.name"),
            vocab_size: self
                .get_array("tokenizer.ggml.tokens")
                .map_or(0, <[_]>::len),
            tokenizer_model: string("tokenizer.ggml.model"),
            tokenizer_pre: string("tokenizer.ggml.pre"),
            bos_token_id: token_id("tokenizer.ggml.bos_token_id"),
            eos_token_id: token_id("tokenizer.ggml.eos_token_id"),
            add_bos_token: self.get_bool("tokenizer.ggml.add_bos_token"),
            chat_template: string("tokenizer.chat_template"),
            context_length,
            architecture,
        }
    }
}

/// Little-endian reader that tracks the byte offset and names what it reads in errors.
struct Parser<R> {
    r: R,
    offset: u64,
    path: PathBuf,
    /// Where we are, e.g. "metadata key `general.name`", appended to error messages.
    ctx: String,
}

impl<R: Read> Parser<R> {
    fn what(&self, what: &str) -> String {
        format!("{what} ({})", self.ctx)
    }

    fn invalid(&self, offset: u64, what: &str, detail: String) -> GgufError {
        GgufError::Invalid {
            path: self.path.clone(),
            offset,
            what: self.what(what),
            detail,
        }
    }

    fn io_error(&self, err: io::Error, what: &str) -> GgufError {
        if err.kind() == io::ErrorKind::UnexpectedEof {
            GgufError::Truncated {
                path: self.path.clone(),
                offset: self.offset,
                what: self.what(what),
            }
        } else {
            GgufError::Io {
                path: self.path.clone(),
                source: err,
            }
        }
    }

    fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N], GgufError> {
        let mut buf = [0u8; N];
        self.r
            .read_exact(&mut buf)
            .map_err(|e| self.io_error(e, what))?;
        self.offset += N as u64;
        Ok(buf)
    }

    /// A `u64` length or count, rejected above `limit`.
    fn length(&mut self, what: &str, limit: u64) -> Result<u64, GgufError> {
        let offset = self.offset;
        let value = u64::from_le_bytes(self.array(what)?);
        if value > limit {
            return Err(GgufError::TooLarge {
                path: self.path.clone(),
                offset,
                what: self.what(what),
                value,
                limit,
            });
        }
        Ok(value)
    }

    fn value_type(&mut self, what: &str) -> Result<ValueType, GgufError> {
        let offset = self.offset;
        let tag = u32::from_le_bytes(self.array(what)?);
        ValueType::from_u32(tag)
            .ok_or_else(|| self.invalid(offset, what, format!("unknown value type {tag}")))
    }

    fn string(&mut self, what: &str) -> Result<String, GgufError> {
        let len = self.length(&format!("{what} length"), MAX_STRING_LEN)?;
        let start = self.offset;
        // `read_to_end` grows the buffer only as bytes arrive.
        let mut buf = Vec::with_capacity(len.min(1 << 16) as usize);
        let n = (&mut self.r)
            .take(len)
            .read_to_end(&mut buf)
            .map_err(|e| self.io_error(e, what))?;
        self.offset += n as u64;
        if (n as u64) < len {
            return Err(self.io_error(io::ErrorKind::UnexpectedEof.into(), what));
        }
        String::from_utf8(buf).map_err(|e| {
            let at = start + e.utf8_error().valid_up_to() as u64;
            self.invalid(at, what, "not valid UTF-8".into())
        })
    }

    fn value(&mut self, ty: ValueType, depth: usize) -> Result<Value, GgufError> {
        const WHAT: &str = "value";
        Ok(match ty {
            ValueType::U8 => Value::U8(u8::from_le_bytes(self.array(WHAT)?)),
            ValueType::I8 => Value::I8(i8::from_le_bytes(self.array(WHAT)?)),
            ValueType::U16 => Value::U16(u16::from_le_bytes(self.array(WHAT)?)),
            ValueType::I16 => Value::I16(i16::from_le_bytes(self.array(WHAT)?)),
            ValueType::U32 => Value::U32(u32::from_le_bytes(self.array(WHAT)?)),
            ValueType::I32 => Value::I32(i32::from_le_bytes(self.array(WHAT)?)),
            ValueType::F32 => Value::F32(f32::from_le_bytes(self.array(WHAT)?)),
            ValueType::U64 => Value::U64(u64::from_le_bytes(self.array(WHAT)?)),
            ValueType::I64 => Value::I64(i64::from_le_bytes(self.array(WHAT)?)),
            ValueType::F64 => Value::F64(f64::from_le_bytes(self.array(WHAT)?)),
            ValueType::Bool => {
                let offset = self.offset;
                match self.array::<1>(WHAT)?[0] {
                    0 => Value::Bool(false),
                    1 => Value::Bool(true),
                    b => {
                        return Err(self.invalid(
                            offset,
                            "bool",
                            format!("byte {b} is not 0 or 1"),
                        ));
                    }
                }
            }
            ValueType::String => Value::String(self.string("string value")?),
            ValueType::Array => {
                let offset = self.offset;
                if depth >= MAX_ARRAY_DEPTH {
                    return Err(self.invalid(
                        offset,
                        "array",
                        format!("arrays nested more than {MAX_ARRAY_DEPTH} deep"),
                    ));
                }
                let elem = self.value_type("array element type")?;
                let len = self.length("array length", MAX_ARRAY_LEN)?;
                let mut values = Vec::with_capacity(len.min(MAX_PREALLOC) as usize);
                for _ in 0..len {
                    values.push(self.value(elem, depth + 1)?);
                }
                Value::Array(elem, values)
            }
        })
    }
}
