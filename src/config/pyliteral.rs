//! Parser for the Python literals that Meet's settings accept for "dict" variables
//! (`{'a': 1}`, `{"a": True}`): users-auth-rooms §7.1. JSON `true`/`false`/`null` are errors,
//! as in the reference. The result is a JSON value with the key order kept.

use serde_json::{Map, Number, Value};

/// Parses a Python literal (dict, list, tuple, str, int, float, True, False, None).
pub fn parse(input: &str) -> Result<Value, String> {
    let mut p = Parser { s: input.as_bytes(), i: 0, src: input };
    p.ws();
    let v = p.value()?;
    p.ws();
    if p.i != p.s.len() {
        return Err(format!("unexpected text at position {}", p.i));
    }
    Ok(v)
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
    src: &'a str,
}

impl Parser<'_> {
    fn ws(&mut self) {
        while self.i < self.s.len() && (self.s[self.i] as char).is_ascii_whitespace() {
            self.i += 1;
        }
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn expect(&mut self, c: u8) -> Result<(), String> {
        self.ws();
        if self.peek() == Some(c) {
            self.i += 1;
            Ok(())
        } else {
            Err(format!("expected '{}' at position {}", c as char, self.i))
        }
    }

    fn value(&mut self) -> Result<Value, String> {
        self.ws();
        match self.peek() {
            Some(b'{') => self.dict(),
            Some(b'[') => self.seq(b'[', b']'),
            Some(b'(') => self.seq(b'(', b')'),
            Some(b'\'') | Some(b'"') => self.string().map(Value::String),
            Some(c) if c == b'-' || c == b'+' || c.is_ascii_digit() || c == b'.' => self.number(),
            Some(c) if c.is_ascii_alphabetic() => {
                let start = self.i;
                while self.peek().is_some_and(|c| c.is_ascii_alphanumeric() || c == b'_') {
                    self.i += 1;
                }
                match &self.src[start..self.i] {
                    "True" => Ok(Value::Bool(true)),
                    "False" => Ok(Value::Bool(false)),
                    "None" => Ok(Value::Null),
                    other => Err(format!("'{other}' is not a Python literal")),
                }
            }
            _ => Err(format!("unexpected input at position {}", self.i)),
        }
    }

    fn dict(&mut self) -> Result<Value, String> {
        self.expect(b'{')?;
        let mut map = Map::new();
        loop {
            self.ws();
            if self.peek() == Some(b'}') {
                self.i += 1;
                return Ok(Value::Object(map));
            }
            let key = match self.value()? {
                Value::String(s) => s,
                Value::Number(n) => n.to_string(),
                Value::Bool(b) => if b { "True" } else { "False" }.to_string(),
                _ => return Err("unsupported dict key".into()),
            };
            self.expect(b':')?;
            let v = self.value()?;
            map.insert(key, v);
            self.ws();
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(b'}') => {}
                _ => return Err(format!("expected ',' or '}}' at position {}", self.i)),
            }
        }
    }

    fn seq(&mut self, open: u8, close: u8) -> Result<Value, String> {
        self.expect(open)?;
        let mut items = Vec::new();
        loop {
            self.ws();
            if self.peek() == Some(close) {
                self.i += 1;
                return Ok(Value::Array(items));
            }
            items.push(self.value()?);
            self.ws();
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(c) if c == close => {}
                _ => return Err(format!("expected ',' at position {}", self.i)),
            }
        }
    }

    fn string(&mut self) -> Result<String, String> {
        let quote = self.s[self.i];
        self.i += 1;
        let mut out = String::new();
        let mut chars = self.src[self.i..].char_indices();
        while let Some((off, c)) = chars.next() {
            if c as u32 == quote as u32 {
                self.i += off + 1;
                return Ok(out);
            }
            if c == '\\' {
                let (_, e) = chars.next().ok_or("unterminated string")?;
                match e {
                    'n' => out.push('\n'),
                    't' => out.push('\t'),
                    'r' => out.push('\r'),
                    '0' => out.push('\0'),
                    '\\' | '\'' | '"' => out.push(e),
                    'u' => {
                        let hex: String = (0..4).filter_map(|_| chars.next().map(|(_, c)| c)).collect();
                        let code = u32::from_str_radix(&hex, 16).map_err(|_| "bad \\u escape")?;
                        out.push(char::from_u32(code).ok_or("bad \\u escape")?);
                    }
                    other => {
                        out.push('\\');
                        out.push(other);
                    }
                }
            } else {
                out.push(c);
            }
        }
        Err("unterminated string".into())
    }

    fn number(&mut self) -> Result<Value, String> {
        let start = self.i;
        while self.peek().is_some_and(|c| c.is_ascii_digit() || matches!(c, b'-' | b'+' | b'.' | b'e' | b'E' | b'_')) {
            self.i += 1;
        }
        let text: String = self.src[start..self.i].chars().filter(|c| *c != '_').collect();
        if let Ok(i) = text.parse::<i64>() {
            return Ok(Value::Number(i.into()));
        }
        text.parse::<f64>()
            .ok()
            .and_then(Number::from_f64)
            .map(Value::Number)
            .ok_or_else(|| format!("'{text}' is not a number"))
    }
}

#[cfg(test)]
mod tests {
    use super::parse;
    use serde_json::json;

    #[test]
    fn python_dicts_parse_with_order_kept() {
        let v = parse("{'id': 'abc', \"host\": 'https://x', 'n': 3, 'ok': True, 'no': None}").unwrap();
        assert_eq!(v, json!({"id": "abc", "host": "https://x", "n": 3, "ok": true, "no": null}));
        let keys: Vec<_> = v.as_object().unwrap().keys().cloned().collect();
        assert_eq!(keys, ["id", "host", "n", "ok", "no"]);
    }

    #[test]
    fn json_booleans_are_refused_as_in_the_reference() {
        assert!(parse("{\"a\": true}").is_err());
        assert!(parse("{'a': null}").is_err());
    }

    #[test]
    fn nested_and_tuples() {
        assert_eq!(parse("{'a': [1, (2, 3)], 'b': {'c': -1.5}}").unwrap(), json!({"a": [1, [2, 3]], "b": {"c": -1.5}}));
        assert!(parse("{'a': 1").is_err());
        assert!(parse("{'a': 1} x").is_err());
    }
}
