//! How admin commands print: an aligned table (lists), `key: value` lines (one object), or JSON.

use serde_json::Value;

/// The output mode of one command.
pub struct Out {
    pub json: bool,
}

fn cell(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => "-".into(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

impl Out {
    /// Prints rows (JSON objects) with the given columns.
    pub fn rows(&self, columns: &[&str], rows: &[Value]) {
        if self.json {
            println!("{}", serde_json::to_string_pretty(rows).unwrap_or_default());
            return;
        }
        let cells: Vec<Vec<String>> = rows.iter().map(|r| columns.iter().map(|c| cell(r.get(*c))).collect()).collect();
        let widths: Vec<usize> = columns
            .iter()
            .enumerate()
            .map(|(i, c)| cells.iter().map(|r| r[i].chars().count()).max().unwrap_or(0).max(c.len()))
            .collect();
        let line = |values: Vec<String>| {
            let padded: Vec<String> = values.iter().zip(&widths).map(|(v, w)| format!("{v:<w$}")).collect();
            println!("{}", padded.join("  ").trim_end());
        };
        line(columns.iter().map(|c| c.to_uppercase()).collect());
        for r in cells {
            line(r);
        }
    }

    /// Prints one object.
    pub fn one(&self, v: &Value) {
        if self.json {
            println!("{}", serde_json::to_string_pretty(v).unwrap_or_default());
            return;
        }
        let Some(map) = v.as_object() else {
            println!("{}", cell(Some(v)));
            return;
        };
        let width = map.keys().map(|k| k.len()).max().unwrap_or(0);
        for (k, v) in map {
            match v {
                Value::Array(items) if items.iter().all(Value::is_object) && !items.is_empty() => {
                    println!("{k:<width$}:");
                    for item in items {
                        println!("  - {}", item);
                    }
                }
                other => println!("{k:<width$}: {}", cell(Some(other))),
            }
        }
    }
}
