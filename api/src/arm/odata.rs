//! The one OData `$filter` parser of the API (ARM's resource, role-definition and
//! role-assignment lists, and Graph's directory lists). It reads the subset those lists
//! take, conditions joined by `and`:
//! - `field eq 'value'`, with OData's quote escaping (`'it''s'` is `it's`);
//! - a function call, `atScope()`, `assignedTo('id')`, `startswith(displayName,'pre')`;
//! - a lambda over a collection, `servicePrincipalNames/any(c:c eq 'value')`.
//!
//! Keywords (`eq`, `and`) and names compare case-insensitively, as ARM and Graph do. What a
//! list does with the conditions, and the error it answers for one it does not take, is the
//! caller's: this module only says whether the text is well formed.

/// One argument of a function call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Arg {
    /// A property name.
    Field(String),
    /// A string literal, unescaped.
    Literal(String),
}

/// One condition of a filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Condition {
    /// `field eq 'value'`.
    Eq {
        /// The property.
        field: String,
        /// The literal, unescaped.
        value: String,
    },
    /// `function(arg, ...)`.
    Call {
        /// The function's name.
        function: String,
        /// Its arguments.
        args: Vec<Arg>,
    },
    /// `field ge value` (or `gt`, `le`, `lt`), the value quoted or bare (a timestamp).
    Compare {
        /// The property.
        field: String,
        /// `ge`, `gt`, `le` or `lt`, lowercase.
        op: String,
        /// The value, unescaped when it was quoted.
        value: String,
    },
    /// `collection/any(v:v eq 'value')`.
    Any {
        /// The collection property.
        collection: String,
        /// The literal, unescaped.
        value: String,
    },
}

impl Condition {
    /// The value of `field eq '<value>'`, when this is that condition.
    #[must_use]
    pub fn eq(&self, name: &str) -> Option<&str> {
        match self {
            Self::Eq { field, value } if field.eq_ignore_ascii_case(name) => Some(value),
            _ => None,
        }
    }

    /// The arguments of `function(...)`, when this is a call of that function.
    #[must_use]
    pub fn call(&self, name: &str) -> Option<&[Arg]> {
        match self {
            Self::Call { function, args } if function.eq_ignore_ascii_case(name) => Some(args),
            _ => None,
        }
    }

    /// The only argument of `function('<literal>')`.
    #[must_use]
    pub fn call_with_literal(&self, name: &str) -> Option<&str> {
        match self.call(name)? {
            [Arg::Literal(value)] => Some(value),
            _ => None,
        }
    }

    /// The value of `collection/any(v:v eq '<value>')`.
    #[must_use]
    pub fn any(&self, name: &str) -> Option<&str> {
        match self {
            Self::Any { collection, value } if collection.eq_ignore_ascii_case(name) => Some(value),
            _ => None,
        }
    }
}

/// A parsed `$filter`: its conditions, all of which must hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    /// The conditions, in the order written.
    pub conditions: Vec<Condition>,
}

/// Why a `$filter` is not well formed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Malformed(String);

impl Filter {
    /// Parses a filter.
    ///
    /// # Errors
    /// [`Malformed`] when the text is not a conjunction of the forms this module reads.
    pub fn parse(text: &str) -> Result<Self, Malformed> {
        let mut tokens = Lexer::new(text).tokens()?.into_iter().peekable();
        let mut conditions = vec![condition(&mut tokens)?];
        while let Some(token) = tokens.next() {
            match token {
                Token::Word(w) if w.eq_ignore_ascii_case("and") => {
                    conditions.push(condition(&mut tokens)?);
                }
                other => return Err(unexpected(&other)),
            }
        }
        Ok(Self { conditions })
    }

    /// The only condition, when there is exactly one.
    #[must_use]
    pub fn single(&self) -> Option<&Condition> {
        match self.conditions.as_slice() {
            [only] => Some(only),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Word(String),
    Literal(String),
    Open,
    Close,
    Comma,
}

fn unexpected(token: &Token) -> Malformed {
    Malformed(match token {
        Token::Word(w) => format!("unexpected '{w}'"),
        Token::Literal(l) => format!("unexpected literal '{l}'"),
        Token::Open => "unexpected '('".to_owned(),
        Token::Close => "unexpected ')'".to_owned(),
        Token::Comma => "unexpected ','".to_owned(),
    })
}

type Tokens = std::iter::Peekable<std::vec::IntoIter<Token>>;

fn word(tokens: &mut Tokens) -> Result<String, Malformed> {
    match tokens.next() {
        Some(Token::Word(w)) => Ok(w),
        Some(other) => Err(unexpected(&other)),
        None => Err(Malformed("the filter ends early".to_owned())),
    }
}

fn literal(tokens: &mut Tokens) -> Result<String, Malformed> {
    match tokens.next() {
        Some(Token::Literal(l)) => Ok(l),
        Some(other) => Err(unexpected(&other)),
        None => Err(Malformed("a quoted value is missing".to_owned())),
    }
}

fn expect(tokens: &mut Tokens, wanted: &Token) -> Result<(), Malformed> {
    match tokens.next() {
        Some(t) if &t == wanted => Ok(()),
        Some(other) => Err(unexpected(&other)),
        None => Err(Malformed("the filter ends early".to_owned())),
    }
}

fn keyword(tokens: &mut Tokens, wanted: &str) -> Result<(), Malformed> {
    let w = word(tokens)?;
    if w.eq_ignore_ascii_case(wanted) {
        Ok(())
    } else {
        Err(Malformed(format!("expected '{wanted}', found '{w}'")))
    }
}

fn condition(tokens: &mut Tokens) -> Result<Condition, Malformed> {
    let name = word(tokens)?;
    if let Some(Token::Word(op)) = tokens.peek() {
        let op = op.to_ascii_lowercase();
        if ["ge", "gt", "le", "lt"].contains(&op.as_str()) {
            tokens.next();
            let value = match tokens.next() {
                Some(Token::Literal(v) | Token::Word(v)) => v,
                Some(other) => return Err(unexpected(&other)),
                None => return Err(Malformed("a value is missing".to_owned())),
            };
            return Ok(Condition::Compare {
                field: name,
                op,
                value,
            });
        }
    }
    if tokens.peek() != Some(&Token::Open) {
        keyword(tokens, "eq")?;
        return Ok(Condition::Eq {
            field: name,
            value: literal(tokens)?,
        });
    }
    tokens.next();
    if let Some(collection) = name.strip_suffix("/any") {
        // `v:v eq 'value'`: the range variable is one word with its colon.
        let variable = word(tokens)?;
        let Some((declared, used)) = variable.split_once(':') else {
            return Err(Malformed(format!("expected 'v:v', found '{variable}'")));
        };
        if declared != used {
            return Err(Malformed(format!("'{used}' is not the range variable")));
        }
        keyword(tokens, "eq")?;
        let value = literal(tokens)?;
        expect(tokens, &Token::Close)?;
        return Ok(Condition::Any {
            collection: collection.to_owned(),
            value,
        });
    }
    let mut args = Vec::new();
    loop {
        match tokens.next() {
            Some(Token::Close) if args.is_empty() => break,
            Some(Token::Word(w)) => args.push(Arg::Field(w)),
            Some(Token::Literal(l)) => args.push(Arg::Literal(l)),
            Some(other) => return Err(unexpected(&other)),
            None => return Err(Malformed("a ')' is missing".to_owned())),
        }
        match tokens.next() {
            Some(Token::Close) => break,
            Some(Token::Comma) => {}
            Some(other) => return Err(unexpected(&other)),
            None => return Err(Malformed("a ')' is missing".to_owned())),
        }
    }
    Ok(Condition::Call {
        function: name,
        args,
    })
}

struct Lexer<'a> {
    chars: std::iter::Peekable<std::str::Chars<'a>>,
}

impl<'a> Lexer<'a> {
    fn new(text: &'a str) -> Self {
        Self {
            chars: text.chars().peekable(),
        }
    }

    fn tokens(mut self) -> Result<Vec<Token>, Malformed> {
        let mut out = Vec::new();
        while let Some(&c) = self.chars.peek() {
            match c {
                c if c.is_whitespace() => {
                    self.chars.next();
                }
                '(' | ')' | ',' => {
                    self.chars.next();
                    out.push(match c {
                        '(' => Token::Open,
                        ')' => Token::Close,
                        _ => Token::Comma,
                    });
                }
                '\'' => {
                    self.chars.next();
                    out.push(Token::Literal(self.literal()?));
                }
                c if c.is_alphanumeric() || "_/:.$@-+".contains(c) => {
                    let mut w = String::new();
                    while let Some(&c) = self.chars.peek() {
                        if !(c.is_alphanumeric() || "_/:.$@-+".contains(c)) {
                            break;
                        }
                        w.push(c);
                        self.chars.next();
                    }
                    out.push(Token::Word(w));
                }
                other => return Err(Malformed(format!("unexpected character '{other}'"))),
            }
        }
        if out.is_empty() {
            return Err(Malformed("the filter is empty".to_owned()));
        }
        Ok(out)
    }

    /// The rest of a quoted literal, `''` standing for one quote.
    fn literal(&mut self) -> Result<String, Malformed> {
        let mut value = String::new();
        loop {
            match self.chars.next() {
                Some('\'') if self.chars.peek() == Some(&'\'') => {
                    self.chars.next();
                    value.push('\'');
                }
                Some('\'') => return Ok(value),
                Some(c) => value.push(c),
                None => return Err(Malformed("a quoted value is not closed".to_owned())),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn parse(text: &str) -> Vec<Condition> {
        Filter::parse(text)
            .map(|f| f.conditions)
            .unwrap_or_default()
    }

    #[test]
    fn equalities_join_with_and_and_unescape_quotes() {
        let c =
            parse("resourceType eq 'Microsoft.ContainerRegistry/registries' AND name EQ 'it''s'");
        assert_eq!(c.len(), 2);
        assert_eq!(
            c[0].eq("resourcetype"),
            Some("Microsoft.ContainerRegistry/registries")
        );
        assert_eq!(c[1].eq("name"), Some("it's"));
        assert_eq!(parse("displayName eq ''")[0].eq("displayName"), Some(""));
    }

    #[test]
    fn calls_and_lambdas_parse() {
        let id = "0a2b7dc5-8eb4-4970-9418-694f83a6c164";
        let c = parse(&format!("atScope() and assignedTo('{id}')"));
        assert_eq!(c[0].call("atscope"), Some(&[][..]));
        assert_eq!(c[1].call_with_literal("assignedTo"), Some(id));
        let c = parse("startswith(displayName,'ci-')");
        assert_eq!(
            c[0].call("startswith"),
            Some(&[Arg::Field("displayName".into()), Arg::Literal("ci-".into())][..])
        );
        let c = parse("servicePrincipalNames/any(c:c eq 'http://x/y')");
        assert_eq!(c[0].any("servicePrincipalNames"), Some("http://x/y"));
    }

    #[test]
    fn malformed_filters_are_refused() {
        for bad in [
            "",
            "name eq",
            "name eq x",
            "name ne 'x'",
            "name eq 'x",
            "name eq 'it's'",
            "name eq 'x' or name eq 'y'",
            "name eq 'x' and",
            "atScope(",
            "assignedTo('a' 'b')",
            "servicePrincipalNames/any(c:d eq 'x')",
            "name eq 'x'; drop",
        ] {
            assert!(Filter::parse(bad).is_err(), "{bad:?} parsed");
        }
    }

    #[test]
    fn no_input_panics() {
        // Multi-byte text, stray quotes and parentheses in every position.
        for text in [
            "é eq 'ü'",
            "'",
            "''",
            "(",
            ")",
            ",",
            "a/any(",
            "a/any(c:c",
            "x eq 'a''",
        ] {
            let _ = Filter::parse(text);
        }
    }

    proptest! {
        #[test]
        fn any_text_parses_or_is_refused_without_panicking(text in "\\PC{0,80}") {
            let _ = Filter::parse(&text);
        }

        #[test]
        fn any_value_comes_back_unescaped(
            field in "[a-zA-Z][a-zA-Z0-9]{0,20}",
            value in "\\PC{0,40}",
            second in "\\PC{0,40}",
        ) {
            prop_assume!(!field.eq_ignore_ascii_case("and") && !field.eq_ignore_ascii_case("eq"));
            let quoted = |v: &str| format!("'{}'", v.replace('\'', "''"));
            let text = format!("{field} eq {} and name eq {}", quoted(&value), quoted(&second));
            let parsed = Filter::parse(&text);
            prop_assert!(parsed.is_ok(), "{text:?}: {parsed:?}");
            let conditions = parsed.map(|f| f.conditions).unwrap_or_default();
            prop_assert_eq!(conditions.len(), 2);
            prop_assert_eq!(conditions[0].eq(&field), Some(value.as_str()));
            prop_assert_eq!(conditions[1].eq("name"), Some(second.as_str()));
        }
    }
}
