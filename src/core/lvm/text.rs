//! LVM2's metadata text format (lvm2's config syntax): `name = value`
//! at the top level and in sections, values strings, numbers or `[…]`
//! lists, `#` comments. Read into the JSON reader's tokens: a section is
//! an object, a list an array, so the same getters serve both.

use crate::json::{Error, Json, Kind, MAX_DEPTH, Parser, Token, unique_keys};

impl Parser<'_, '_> {
    fn lvm_ws(&mut self) {
        loop {
            self.ws();
            if self.s.get(self.at) != Some(&b'#') {
                return;
            }
            while self.at < self.s.len() && self.s[self.at] != b'\n' {
                self.at += 1;
            }
        }
    }

    fn ident(&mut self) -> Result<(), Error> {
        let start = self.at;
        while self.at < self.s.len() && (self.s[self.at].is_ascii_alphanumeric() || matches!(self.s[self.at], b'_' | b'.' | b'+' | b'-')) {
            self.at += 1;
        }
        if self.at == start {
            return self.err();
        }
        let i = self.push(Kind::String, start)?;
        self.toks[i].end = self.at as u32;
        self.toks[i].next = self.n as u32;
        Ok(())
    }

    fn lvm_value(&mut self, depth: usize) -> Result<(), Error> {
        if depth > MAX_DEPTH {
            return Err(Error::TooDeep);
        }
        self.lvm_ws();
        match self.s.get(self.at) {
            Some(b'"') => self.string(),
            Some(b'[') => {
                let i = self.push(Kind::Array, self.at)?;
                self.at += 1;
                self.lvm_ws();
                if self.s.get(self.at) == Some(&b']') {
                    self.at += 1;
                } else {
                    loop {
                        self.lvm_value(depth + 1)?;
                        self.lvm_ws();
                        match self.s.get(self.at) {
                            Some(b',') => self.at += 1,
                            Some(b']') => {
                                self.at += 1;
                                break;
                            }
                            _ => return self.err(),
                        }
                    }
                }
                self.toks[i].end = self.at as u32;
                self.toks[i].next = self.n as u32;
                Ok(())
            }
            Some(b'-' | b'0'..=b'9') => {
                let start = self.at;
                let i = self.push(Kind::Atom, start)?;
                self.at += 1;
                while self.at < self.s.len() && matches!(self.s[self.at], b'0'..=b'9' | b'.') {
                    self.at += 1;
                }
                self.toks[i].end = self.at as u32;
                self.toks[i].next = self.n as u32;
                Ok(())
            }
            _ => self.err(),
        }
    }

    /// Members until `}` (in a section) or the end of the text.
    fn lvm_members(&mut self, i: usize, depth: usize) -> Result<(), Error> {
        if depth > MAX_DEPTH {
            return Err(Error::TooDeep);
        }
        loop {
            self.lvm_ws();
            match self.s.get(self.at) {
                None if depth == 0 => break,
                Some(b'}') if depth > 0 => {
                    self.at += 1;
                    break;
                }
                None | Some(b'}') => return self.err(),
                _ => {}
            }
            self.ident()?;
            self.lvm_ws();
            match self.s.get(self.at) {
                Some(b'=') => {
                    self.at += 1;
                    self.lvm_value(depth)?;
                }
                Some(b'{') => {
                    let j = self.push(Kind::Object, self.at)?;
                    self.at += 1;
                    self.lvm_members(j, depth + 1)?;
                }
                _ => return self.err(),
            }
        }
        self.toks[i].end = self.at as u32;
        self.toks[i].next = self.n as u32;
        Ok(())
    }
}

/// Reads LVM2 metadata text; the root is an object of its top-level members.
pub fn parse<'a>(text: &'a str, toks: &'a mut [Token]) -> Result<Json<'a>, Error> {
    let mut p = Parser { s: text.as_bytes(), at: 0, toks, n: 0 };
    let i = p.push(Kind::Object, 0)?;
    p.lvm_members(i, 0)?;
    let n = p.n;
    unique_keys(Json { text, toks: &toks[..n] })
}

