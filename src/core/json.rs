//! A small, strict JSON reader for LUKS2 metadata (and the tokens that
//! LVM2's own text format, `lvm::text`, is read into): the text is split into
//! a fixed array of tokens (as jsmn and GRUB's `luks2.c` do), then read
//! through path getters. Nothing is copied or unescaped: keys and values
//! are compared as they stand, which is all LUKS2 needs (its strings are
//! names, base64 and decimal numbers).
//!
//! Strict: one value with only whitespace around it, string keys, no
//! trailing commas, control characters refused in strings, nesting at
//! most [`MAX_DEPTH`], at most as many tokens as the caller's array holds.

/// Deepest nesting accepted (LUKS2 needs 4).
pub const MAX_DEPTH: usize = 16;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Object,
    Array,
    String,
    /// A number, `true`, `false` or `null`, as written.
    Atom,
}

/// One value: where its text lies, and (for objects and arrays) where
/// its members' tokens end. An object's members are key and value tokens
/// in turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Token {
    pub kind: Kind,
    /// Byte range of the value (inside the quotes for strings).
    pub(crate) start: u32,
    pub(crate) end: u32,
    /// Index one past the last token of this value's subtree.
    pub(crate) next: u32,
}

impl Token {
    pub const EMPTY: Token = Token { kind: Kind::Atom, start: 0, end: 0, next: 0 };
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Error {
    /// The text is not JSON at this byte offset.
    Syntax(usize),
    TooDeep,
    TooManyTokens,
    /// The object at this byte offset names a key twice, or with an escape.
    Key(usize),
}

impl core::fmt::Display for Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Error::Syntax(at) => write!(f, "not valid JSON at byte {at}"),
            Error::TooDeep => write!(f, "nested deeper than {MAX_DEPTH}"),
            Error::TooManyTokens => f.write_str("too many values"),
            Error::Key(at) => write!(f, "the object at byte {at} repeats a key, or writes one with an escape"),
        }
    }
}

pub(crate) struct Parser<'a, 't> {
    pub(crate) s: &'a [u8],
    pub(crate) at: usize,
    pub(crate) toks: &'t mut [Token],
    pub(crate) n: usize,
}

impl Parser<'_, '_> {
    pub(crate) fn ws(&mut self) {
        while self.at < self.s.len() && matches!(self.s[self.at], b' ' | b'\t' | b'\n' | b'\r') {
            self.at += 1;
        }
    }

    pub(crate) fn err<T>(&self) -> Result<T, Error> {
        Err(Error::Syntax(self.at))
    }

    pub(crate) fn push(&mut self, kind: Kind, start: usize) -> Result<usize, Error> {
        let i = self.n;
        let t = self.toks.get_mut(i).ok_or(Error::TooManyTokens)?;
        *t = Token { kind, start: start as u32, end: start as u32, next: 0 };
        self.n += 1;
        Ok(i)
    }

    pub(crate) fn eat(&mut self, c: u8) -> bool {
        self.ws();
        if self.s.get(self.at) == Some(&c) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    pub(crate) fn string(&mut self) -> Result<(), Error> {
        if !self.eat(b'"') {
            return self.err();
        }
        let i = self.push(Kind::String, self.at)?;
        loop {
            match self.s.get(self.at) {
                None => return self.err(),
                Some(b'"') => break,
                Some(b'\\') => {
                    match self.s.get(self.at + 1) {
                        Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => self.at += 2,
                        Some(b'u') if self.s.get(self.at + 2..self.at + 6).is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit)) => self.at += 6,
                        _ => return self.err(),
                    }
                    continue;
                }
                Some(&c) if c < 0x20 => return self.err(),
                Some(_) => self.at += 1,
            }
        }
        self.toks[i].end = self.at as u32;
        self.toks[i].next = self.n as u32;
        self.at += 1;
        Ok(())
    }

    fn value(&mut self, depth: usize) -> Result<(), Error> {
        if depth > MAX_DEPTH {
            return Err(Error::TooDeep);
        }
        self.ws();
        let start = self.at;
        let kind = match self.s.get(self.at) {
            Some(b'"') => return self.string(),
            Some(b'{') => Kind::Object,
            Some(b'[') => Kind::Array,
            Some(b'-' | b'0'..=b'9' | b't' | b'f' | b'n') => Kind::Atom,
            _ => return self.err(),
        };
        let i = self.push(kind, start)?;
        if kind == Kind::Atom {
            while self.at < self.s.len() && matches!(self.s[self.at], b'-' | b'+' | b'.' | b'0'..=b'9' | b'e' | b'E' | b'a'..=b'z') {
                self.at += 1;
            }
            let text = &self.s[start..self.at];
            let number = text.iter().all(|c| matches!(c, b'-' | b'+' | b'.' | b'0'..=b'9' | b'e' | b'E')) && text.iter().any(u8::is_ascii_digit);
            if !(number || matches!(text, b"true" | b"false" | b"null")) {
                return self.err();
            }
        } else {
            self.at += 1;
            let close = if kind == Kind::Object { b'}' } else { b']' };
            if !self.eat(close) {
                loop {
                    if kind == Kind::Object {
                        self.ws();
                        self.string()?;
                        if !self.eat(b':') {
                            return self.err();
                        }
                    }
                    self.value(depth + 1)?;
                    if self.eat(close) {
                        break;
                    }
                    if !self.eat(b',') {
                        return self.err();
                    }
                }
            }
        }
        self.toks[i].end = self.at as u32;
        self.toks[i].next = self.n as u32;
        Ok(())
    }
}

/// Refuses an object that names a key twice, or a key written with an
/// escape: a JSON library keeps the last of repeated keys (json-c, which
/// cryptsetup uses) or the first (this reader's `get`), and `"\u0074ype"`
/// is `"type"` to one and not to the other. Neither LUKS2 nor lvm2 ever
/// writes either, so a header with them is read by nobody rather than
/// read differently.
pub(crate) fn unique_keys(doc: Json<'_>) -> Result<Json<'_>, Error> {
    for (i, t) in doc.toks.iter().enumerate() {
        if t.kind != Kind::Object {
            continue;
        }
        let obj = Value { doc, i };
        for (n, (k, _)) in obj.members().enumerate() {
            if k.contains('\\') || obj.members().skip(n + 1).any(|(other, _)| other == k) {
                return Err(Error::Key(t.start as usize));
            }
        }
    }
    Ok(doc)
}

/// Parsed JSON: the text and its tokens (the first is the whole value).
#[derive(Clone, Copy)]
pub struct Json<'a> {
    pub(crate) text: &'a str,
    pub(crate) toks: &'a [Token],
}

/// Splits `text` into `toks`; the parsed document borrows both.
pub fn parse<'a>(text: &'a str, toks: &'a mut [Token]) -> Result<Json<'a>, Error> {
    let mut p = Parser { s: text.as_bytes(), at: 0, toks, n: 0 };
    p.value(0)?;
    p.ws();
    if p.at != p.s.len() {
        return p.err();
    }
    let n = p.n;
    unique_keys(Json { text, toks: &toks[..n] })
}

impl<'a> Json<'a> {
    pub fn root(&self) -> Value<'a> {
        Value { doc: *self, i: 0 }
    }
}

/// One value of a parsed document.
#[derive(Clone, Copy)]
pub struct Value<'a> {
    doc: Json<'a>,
    i: usize,
}

impl<'a> Value<'a> {
    fn tok(&self) -> Token {
        self.doc.toks.get(self.i).copied().unwrap_or(Token::EMPTY)
    }

    pub fn kind(&self) -> Kind {
        self.tok().kind
    }

    /// The text of a string (as written, escapes left in) or atom.
    fn raw(&self) -> &'a str {
        let t = self.tok();
        self.doc.text.get(t.start as usize..t.end as usize).unwrap_or("")
    }

    /// The children: values of an array, keys and values of an object.
    fn children(self) -> impl Iterator<Item = Value<'a>> {
        let doc = self.doc;
        let end = self.tok().next as usize;
        let is_container = matches!(self.kind(), Kind::Object | Kind::Array);
        let mut i = self.i + 1;
        core::iter::from_fn(move || {
            if !is_container || i >= end {
                return None;
            }
            let v = Value { doc, i };
            i = doc.toks.get(i).map_or(end, |t| t.next as usize);
            Some(v)
        })
    }

    /// An object's members, in order.
    pub fn members(self) -> impl Iterator<Item = (&'a str, Value<'a>)> {
        let is_object = self.kind() == Kind::Object;
        let mut c = self.children();
        core::iter::from_fn(move || {
            if !is_object {
                return None;
            }
            let k = c.next()?;
            let v = c.next()?;
            Some((k.raw(), v))
        })
    }

    /// An array's items.
    pub fn items(self) -> impl Iterator<Item = Value<'a>> {
        let is_array = self.kind() == Kind::Array;
        self.children().filter(move |_| is_array)
    }

    /// The member `key` of an object (keys are unique: see `unique_keys`).
    pub fn get(&self, key: &str) -> Option<Value<'a>> {
        self.members().find(|(k, _)| *k == key).map(|(_, v)| v)
    }

    /// A string's text, escapes left in.
    pub fn str(&self) -> Option<&'a str> {
        (self.kind() == Kind::String).then(|| self.raw())
    }

    /// A whole number, written as a number or (as LUKS2 does for values
    /// past 2^53) as a decimal string.
    pub fn u64(&self) -> Option<u64> {
        let s = match self.kind() {
            Kind::String | Kind::Atom => self.raw(),
            _ => return None,
        };
        if s.is_empty() || s.len() > 20 || !s.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        s.bytes().try_fold(0u64, |n, c| n.checked_mul(10)?.checked_add(u64::from(c - b'0')))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc<'a>(s: &'a str, toks: &'a mut [Token]) -> Json<'a> {
        parse(s, toks).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn reads_luks2_shapes() {
        let mut t = [Token::EMPTY; 64];
        let j = doc(r#" {"keyslots":{"0":{"type":"luks2","key_size":64,"area":{"offset":"32768","size":"258048"}}},
            "config":{"json_size":"12288","flags":["allow-discards","x"]}, "e":[], "o":{}, "n":null, "esc":"a\"b"} "#, &mut t);
        let r = j.root();
        let ks = r.get("keyslots").unwrap().get("0").unwrap();
        assert_eq!(ks.get("type").unwrap().str(), Some("luks2"));
        assert_eq!(ks.get("key_size").unwrap().u64(), Some(64));
        assert_eq!(ks.get("area").unwrap().get("offset").unwrap().u64(), Some(32768));
        let flags: Vec<_> = r.get("config").unwrap().get("flags").unwrap().items().map(|v| v.str().unwrap()).collect();
        assert_eq!(flags, ["allow-discards", "x"]);
        assert_eq!(r.get("e").unwrap().items().count(), 0);
        assert_eq!(r.get("o").unwrap().members().count(), 0);
        assert_eq!(r.get("esc").unwrap().str(), Some(r#"a\"b"#));
        assert_eq!(r.members().map(|(k, _)| k).collect::<Vec<_>>(), ["keyslots", "config", "e", "o", "n", "esc"]);
        assert!(r.get("missing").is_none());
        assert!(ks.get("type").unwrap().get("x").is_none(), "a string has no members");
    }

    #[test]
    fn numbers() {
        let mut t = [Token::EMPTY; 8];
        let j = doc(r#"[1, "18446744073709551615", "18446744073709551616", -1, 1.5, "", "1a"]"#, &mut t);
        let v: Vec<_> = j.root().items().map(|v| v.u64()).collect();
        assert_eq!(v, [Some(1), Some(u64::MAX), None, None, None, None, None]);
    }

    #[test]
    fn refuses_what_is_not_json() {
        let mut t = [Token::EMPTY; 32];
        for bad in ["", "{", "}", "{\"a\"}", "{\"a\":}", "{\"a\":1,}", "[1,]", "[1 2]", "{1:2}", "\"a", "\"\x01\"", "tru", "[-]", "\"\\x\"", "1 1", "{\"a\":1}}", "nul"] {
            assert!(parse(bad, &mut t).is_err(), "{bad:?}");
        }
        let deep = "[".repeat(MAX_DEPTH + 2) + &"]".repeat(MAX_DEPTH + 2);
        assert_eq!(parse(&deep, &mut t).err(), Some(Error::TooDeep));
        let mut few = [Token::EMPTY; 2];
        assert_eq!(parse("[1,2]", &mut few).err(), Some(Error::TooManyTokens));
    }

    #[test]
    fn repeated_or_escaped_keys_are_refused() {
        let mut t = [Token::EMPTY; 32];
        // json-c (cryptsetup) would keep the last "type", this reader the first.
        assert_eq!(parse(r#"{"k":{"type":"luks2","type":"x"}}"#, &mut t).err(), Some(Error::Key(5)));
        assert_eq!(parse(r#"{"\u0074ype":"x","type":"luks2"}"#, &mut t).err(), Some(Error::Key(0)));
        assert!(parse(r#"{"a":{"type":1},"b":{"type":2}}"#, &mut t).is_ok(), "the same key in two objects");
        assert_eq!(crate::lvm::text::parse("vg {\nid = \"a\"\nid = \"b\"\n}\n", &mut t).err().map(|e| matches!(e, Error::Key(_))), Some(true));
    }
}
