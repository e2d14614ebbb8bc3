//! `--output` and `--query` as the Azure CLI (knack) applies them: JMESPath first, then
//! JSON (indent 2, sorted keys), YAML, a table (scalar columns, `id`/`type`/`etag` left out),
//! TSV (values only, one row per list item, dictionary values in key order), or nothing.

use serde_json::Value;

/// The output formats of `--output`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Indented JSON, keys sorted.
    Json,
    /// JSON (colored on a terminal in `az`; plain here).
    Jsonc,
    /// YAML.
    Yaml,
    /// YAML (colored on a terminal in `az`; plain here).
    Yamlc,
    /// A readable table of the scalar fields.
    Table,
    /// Tab-separated values, no keys.
    Tsv,
    /// Nothing.
    None,
}

/// A query's result, and the key order of the multi-select hash that shaped it (or each
/// of its items): knack keeps that order (an `OrderedDict`) in TSV and tables.
#[derive(Debug, Clone, PartialEq)]
pub struct Queried {
    /// The result.
    pub value: Value,
    /// The keys in the query's order, when a multi-select hash made the objects.
    pub key_order: Option<Vec<String>>,
}

/// Applies `query` (JMESPath) to `value`.
///
/// # Errors
/// The query's syntax or evaluation error, as a message.
pub fn query(value: &Value, query: &str) -> Result<Queried, String> {
    let expr = jmespath::compile(query)
        .map_err(|e| format!("argument --query: invalid jmespath_type value: {e}"))?;
    let data = jmespath::Variable::from_json(&value.to_string())
        .map_err(|e| format!("cannot query the result: {e}"))?;
    let found = expr
        .search(data)
        .map_err(|e| format!("argument --query: {e}"))?;
    Ok(Queried {
        value: serde_json::to_value(&*found)
            .map_err(|e| format!("cannot query the result: {e}"))?,
        key_order: hash_order(expr.as_ast()),
    })
}

/// The keys of the multi-select hash at the end of a query (`{a: x, b: y}`, `[].{...}`,
/// `x.{...}`), in the query's order.
fn hash_order(ast: &jmespath::ast::Ast) -> Option<Vec<String>> {
    use jmespath::ast::Ast;
    match ast {
        Ast::MultiHash { elements, .. } => Some(elements.iter().map(|kv| kv.key.clone()).collect()),
        Ast::Projection { rhs, .. } | Ast::Subexpr { rhs, .. } => hash_order(rhs),
        _ => None,
    }
}

/// Renders a command's result; a `null` result prints nothing, as in `az`. `key_order`
/// (from [`query`]) orders TSV values and table columns as the query named them.
#[must_use]
pub fn render(
    value: &Value,
    format: Format,
    query_active: bool,
    key_order: Option<&[String]>,
) -> String {
    if value.is_null() {
        return String::new();
    }
    match format {
        Format::Json | Format::Jsonc => json(value),
        Format::Yaml | Format::Yamlc => yaml(value),
        Format::Table => table(value, !query_active, key_order),
        Format::Tsv => tsv(value, key_order),
        Format::None => String::new(),
    }
}

/// An object's entries: those `order` names first, in its order, then the rest by key.
fn ordered<'a>(
    map: &'a serde_json::Map<String, Value>,
    order: Option<&[String]>,
) -> Vec<(&'a String, &'a Value)> {
    let mut items: Vec<(&String, &Value)> = map.iter().collect();
    if let Some(order) = order {
        items.sort_by_key(|(k, _)| order.iter().position(|o| o == *k).unwrap_or(usize::MAX));
    }
    items
}

/// JSON with ANSI colors, for `jsonc` on a terminal: keys blue, strings green, numbers,
/// booleans and null cyan (the text is otherwise the same as `json`).
#[must_use]
pub fn colorize_json(text: &str) -> String {
    const KEY: &str = "\x1b[94m";
    const STRING: &str = "\x1b[32m";
    const LITERAL: &str = "\x1b[36m";
    const RESET: &str = "\x1b[39m";
    let mut out = String::with_capacity(text.len() * 2);
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '"' {
            let start = i;
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                if chars[i] == '\\' {
                    i += 1;
                }
                i += 1;
            }
            let literal: String = chars[start..=i.min(chars.len() - 1)].iter().collect();
            let is_key = chars
                .get(i + 1..)
                .unwrap_or(&[])
                .iter()
                .find(|c| !c.is_whitespace())
                == Some(&':');
            out.push_str(if is_key { KEY } else { STRING });
            out.push_str(&literal);
            out.push_str(RESET);
            i += 1;
        } else if c == '-' || c.is_ascii_digit() || c.is_ascii_alphabetic() {
            let start = i;
            while i < chars.len() && !matches!(chars[i], ',' | '\n' | ']' | '}' | ' ') {
                i += 1;
            }
            out.push_str(LITERAL);
            out.extend(&chars[start..i]);
            out.push_str(RESET);
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

/// `json.dumps(result, indent=2, sort_keys=True, ensure_ascii=False)` plus a newline.
fn json(value: &Value) -> String {
    // serde_json's maps are ordered by key (no `preserve_order`): sorted, as az sorts them.
    let mut text = serde_json::to_string_pretty(value).unwrap_or_default();
    text.push('\n');
    text
}

/// Python's `str()` of a JSON scalar.
fn python_str(value: &Value) -> String {
    match value {
        Value::Null => "None".to_owned(),
        Value::Bool(true) => "True".to_owned(),
        Value::Bool(false) => "False".to_owned(),
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Array(items) => items.len().to_string(),
        Value::Object(_) => String::new(),
    }
}

fn tsv(value: &Value, order: Option<&[String]>) -> String {
    let rows: Vec<&Value> = match value {
        Value::Array(items) => items.iter().collect(),
        other => vec![other],
    };
    let mut out = String::new();
    for row in rows {
        let cells: Vec<String> = match row {
            Value::Object(map) => ordered(map, order)
                .into_iter()
                .map(|(_, v)| python_str(v))
                .collect(),
            Value::Array(items) => items.iter().map(python_str).collect(),
            Value::Bool(b) => vec![b.to_string()],
            other => vec![python_str(other)],
        };
        out.push_str(&cells.join("\t"));
        out.push('\n');
    }
    out
}

/// tabulate's "simple" table of the scalar fields, headers capitalized (trailing spaces
/// trimmed).
fn table(value: &Value, sort_keys: bool, order: Option<&[String]>) -> String {
    const SKIP: [&str; 3] = ["id", "type", "etag"];
    let items: Vec<&Value> = match value {
        Value::Array(items) => items.iter().collect(),
        other => vec![other],
    };
    let mut columns: Vec<String> = Vec::new();
    let mut rows: Vec<Vec<(String, String)>> = Vec::new();
    for item in items {
        let mut row = Vec::new();
        match item {
            Value::Object(map) => {
                let keys: Vec<(&String, &Value)> = if sort_keys {
                    map.iter().collect()
                } else {
                    ordered(map, order)
                };
                for (key, v) in keys {
                    if SKIP.contains(&key.as_str()) || v.is_null() || v.is_array() || v.is_object()
                    {
                        continue;
                    }
                    let mut header = key.clone();
                    if let Some(first) = header.get(..1) {
                        header = first.to_uppercase() + &header[1..];
                    }
                    row.push((header, python_str(v)));
                }
            }
            Value::Array(values) => {
                for (i, v) in values.iter().enumerate() {
                    row.push((format!("Column{}", i + 1), python_str(v)));
                }
            }
            other => row.push(("Result".to_owned(), python_str(other))),
        }
        for (header, _) in &row {
            if !columns.contains(header) {
                columns.push(header.clone());
            }
        }
        rows.push(row);
    }
    if columns.is_empty() {
        return String::new();
    }
    let cell = |row: &Vec<(String, String)>, column: &str| {
        row.iter()
            .find(|(h, _)| h == column)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    // tabulate pads headers by two (MIN_PADDING) before it measures a column.
    let widths: Vec<usize> = columns
        .iter()
        .map(|c| {
            rows.iter()
                .map(|r| cell(r, c).chars().count())
                .chain([c.chars().count() + 2])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: Vec<String>| {
        cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_owned()
    };
    let mut out = line(columns.clone());
    out.push('\n');
    out.push_str(&line(widths.iter().map(|w| "-".repeat(*w)).collect()));
    out.push('\n');
    for row in &rows {
        out.push_str(&line(columns.iter().map(|c| cell(row, c)).collect()));
        out.push('\n');
    }
    out
}

/// `yaml.safe_dump(result, default_flow_style=False)` for JSON values.
fn yaml(value: &Value) -> String {
    let mut out = String::new();
    yaml_into(value, 0, &mut out, false);
    if !out.ends_with('\n') {
        out.push('\n');
    }
    out
}

fn yaml_scalar(value: &Value) -> String {
    match value {
        Value::Null => "null".to_owned(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => {
            let plain = !s.is_empty()
                && !s.starts_with(|c: char| "-?:,[]{}#&*!|>'\"%@` ".contains(c))
                && !s.contains(": ")
                && !s.contains(" #")
                && !s.ends_with([' ', ':'])
                && !matches!(
                    s.to_ascii_lowercase().as_str(),
                    "true" | "false" | "null" | "yes" | "no" | "on" | "off" | "~"
                )
                && s.parse::<f64>().is_err()
                && !s.contains('\n');
            if plain {
                s.clone()
            } else {
                format!("'{}'", s.replace('\'', "''"))
            }
        }
        Value::Array(_) => "[]".to_owned(),
        Value::Object(_) => "{}".to_owned(),
    }
}

fn yaml_into(value: &Value, indent: usize, out: &mut String, in_list: bool) {
    let pad = " ".repeat(indent);
    match value {
        Value::Object(map) if !map.is_empty() => {
            for (i, (key, v)) in map.iter().enumerate() {
                if !(in_list && i == 0) {
                    out.push_str(&pad);
                }
                out.push_str(key);
                out.push(':');
                match v {
                    Value::Object(m) if !m.is_empty() => {
                        out.push('\n');
                        yaml_into(v, indent + 2, out, false);
                    }
                    Value::Array(a) if !a.is_empty() => {
                        out.push('\n');
                        yaml_into(v, indent, out, false);
                    }
                    scalar => {
                        out.push(' ');
                        out.push_str(&yaml_scalar(scalar));
                        out.push('\n');
                    }
                }
            }
        }
        Value::Array(items) if !items.is_empty() => {
            for item in items {
                out.push_str(&pad);
                out.push_str("- ");
                match item {
                    Value::Object(m) if !m.is_empty() => yaml_into(item, indent + 2, out, true),
                    Value::Array(a) if !a.is_empty() => {
                        out.push('\n');
                        yaml_into(item, indent + 2, out, false);
                    }
                    scalar => {
                        out.push_str(&yaml_scalar(scalar));
                        out.push('\n');
                    }
                }
            }
        }
        scalar => {
            out.push_str(&pad);
            out.push_str(&yaml_scalar(scalar));
            out.push('\n');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn tsv_prints_values_only_as_az_does() {
        let v = json!([{"name": "a", "enabled": true, "tags": {"x": "y"}, "ips": [1, 2], "n": null}, {"name": "b"}]);
        assert_eq!(tsv(&v, None), "True\t2\tNone\ta\t\nb\n");
        assert_eq!(tsv(&json!("id-1"), None), "id-1\n");
        assert_eq!(tsv(&json!(true), None), "true\n");
        assert_eq!(render(&Value::Null, Format::Tsv, true, None), "");
    }

    #[test]
    fn table_keeps_scalar_columns_and_drops_id_type_etag() {
        let v =
            json!([{"id": "/x", "name": "reg1", "location": "westus", "sku": {"name": "Premium"}}]);
        assert_eq!(
            table(&v, true, None),
            "Location    Name\n----------  ------\nwestus      reg1\n"
        );
    }

    #[test]
    fn colored_json_is_the_same_text_with_colors() {
        let v = json!({"a": "x\"y", "b": [1, -2.5, true, null], "c": {"d": "e: f"}});
        let plain = json(&v);
        let colored = colorize_json(&plain);
        assert!(colored.contains("\x1b[94m\"a\"\x1b[39m"));
        let mut stripped = colored.clone();
        for code in ["\x1b[94m", "\x1b[32m", "\x1b[36m", "\x1b[39m"] {
            stripped = stripped.replace(code, "");
        }
        assert_eq!(stripped, plain);
    }

    #[test]
    fn json_is_indented_and_sorted() {
        assert_eq!(
            json(&json!({"b": 1, "a": [true]})),
            "{\n  \"a\": [\n    true\n  ],\n  \"b\": 1\n}\n"
        );
    }

    #[test]
    fn queries_are_jmespath() {
        let v = json!({"id": "/r", "policies": {"trustPolicy": {"status": "enabled"}}});
        assert_eq!(
            query(&v, "policies.trustPolicy.status").map(|q| q.value),
            Ok(json!("enabled"))
        );
        assert!(query(&v, "[").is_err());
        // A multi-select hash keeps the query's order, as knack's OrderedDict does.
        let list = json!([{"name": "r1", "location": "westus"}]);
        let q =
            query(&list, "[].{name: name, location: location}").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            render(&q.value, Format::Tsv, true, q.key_order.as_deref()),
            "r1\twestus\n"
        );
    }

    #[test]
    fn yaml_is_block_style() {
        let v = json!({"name": "r", "tags": {"env": "prod"}, "list": [{"a": 1, "b": "x"}], "yes": "yes"});
        assert_eq!(
            yaml(&v),
            "list:\n- a: 1\n  b: x\nname: r\ntags:\n  env: prod\nyes: 'yes'\n"
        );
    }
}
