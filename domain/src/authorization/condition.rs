//! Role-assignment conditions (Azure ABAC, `conditionVersion` 2.0), as far as container
//! registries use them: a data action is granted only when the condition holds for the
//! request, such as
//!
//! ```text
//! ((!(ActionMatches{'Microsoft.ContainerRegistry/registries/repositories/content/read'}))
//!   OR (@Request[Microsoft.ContainerRegistry/registries/repositories:name]
//!       StringStartsWithIgnoreCase 'team-a/'))
//! ```
//!
//! The grammar taken: `OR`, `AND`, `!`/`NOT`, parentheses, `ActionMatches{'...'}` (with a
//! trailing `*` wildcard), and `@Request[<attribute>] <operator> '<value>'` with the
//! `StringEquals`, `StringStartsWith`, `StringLike` operators (each also `...IgnoreCase`,
//! and negated as `StringNotEquals`, ...). A condition outside it is refused when the
//! assignment is made, so none is ever silently ignored.

/// The attribute naming a repository.
pub const REPOSITORY_NAME: &str = "Microsoft.ContainerRegistry/registries/repositories:name";

/// What a condition may ask about a request.
#[derive(Debug, Clone, Copy, Default)]
pub struct RequestAttributes<'a> {
    /// The repository the request is about, when it is about one.
    pub repository: Option<&'a str>,
}

/// A parsed condition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Condition {
    /// Both hold.
    And(Box<Condition>, Box<Condition>),
    /// Either holds.
    Or(Box<Condition>, Box<Condition>),
    /// It does not hold.
    Not(Box<Condition>),
    /// The action asked for matches (a trailing `*` matches any rest).
    ActionMatches(String),
    /// A request attribute compared with a value.
    Compare {
        /// The attribute.
        attribute: String,
        /// `Equals`, `StartsWith` or `Like`.
        operator: Operator,
        /// Whether case is ignored.
        ignore_case: bool,
        /// Whether the comparison is negated (`StringNotEquals`, ...).
        negated: bool,
        /// The value.
        value: String,
    },
}

/// String comparisons.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operator {
    /// Equal.
    Equals,
    /// Starts with.
    StartsWith,
    /// Glob with `*` and `?`.
    Like,
}

fn like(pattern: &[u8], text: &[u8]) -> bool {
    match (pattern.first(), text.first()) {
        (None, None) => true,
        (Some(b'*'), _) => {
            like(&pattern[1..], text) || (!text.is_empty() && like(pattern, &text[1..]))
        }
        (Some(b'?'), Some(_)) => like(&pattern[1..], &text[1..]),
        (Some(p), Some(t)) if p == t => like(&pattern[1..], &text[1..]),
        _ => false,
    }
}

impl Condition {
    /// Parses a condition.
    ///
    /// # Errors
    /// What is not understood, and where.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut parser = Parser { text, at: 0 };
        let condition = parser.or()?;
        parser.skip_space();
        if parser.at != text.len() {
            return Err(format!(
                "unexpected text at position {}: '{}'",
                parser.at,
                parser.rest_preview()
            ));
        }
        Ok(condition)
    }

    /// Whether the condition holds for `action` with the request's attributes. An attribute
    /// the request does not have makes its comparison false.
    #[must_use]
    pub fn holds(&self, action: &str, request: &RequestAttributes<'_>) -> bool {
        match self {
            Self::And(a, b) => a.holds(action, request) && b.holds(action, request),
            Self::Or(a, b) => a.holds(action, request) || b.holds(action, request),
            Self::Not(a) => !a.holds(action, request),
            Self::ActionMatches(pattern) => match pattern.strip_suffix('*') {
                Some(prefix) => {
                    action.len() >= prefix.len()
                        && action[..prefix.len()].eq_ignore_ascii_case(prefix)
                }
                None => action.eq_ignore_ascii_case(pattern),
            },
            Self::Compare {
                attribute,
                operator,
                ignore_case,
                negated,
                value,
            } => {
                let actual = if attribute.eq_ignore_ascii_case(REPOSITORY_NAME) {
                    request.repository
                } else {
                    None
                };
                let Some(actual) = actual else {
                    return false;
                };
                let (actual, value) = if *ignore_case {
                    (actual.to_lowercase(), value.to_lowercase())
                } else {
                    (actual.to_owned(), value.clone())
                };
                let matched = match operator {
                    Operator::Equals => actual == value,
                    Operator::StartsWith => actual.starts_with(&value),
                    Operator::Like => like(value.as_bytes(), actual.as_bytes()),
                };
                matched != *negated
            }
        }
    }
}

struct Parser<'a> {
    text: &'a str,
    at: usize,
}

impl Parser<'_> {
    fn rest(&self) -> &str {
        &self.text[self.at..]
    }

    fn rest_preview(&self) -> String {
        self.rest().chars().take(40).collect()
    }

    fn skip_space(&mut self) {
        let trimmed = self.rest().trim_start();
        self.at = self.text.len() - trimmed.len();
    }

    fn keyword(&mut self, word: &str) -> bool {
        self.skip_space();
        let rest = self.rest();
        let matches = rest.len() >= word.len()
            && rest[..word.len()].eq_ignore_ascii_case(word)
            && rest[word.len()..]
                .chars()
                .next()
                .is_none_or(|c| !c.is_ascii_alphanumeric());
        if matches {
            self.at += word.len();
        }
        matches
    }

    fn symbol(&mut self, symbol: &str) -> bool {
        self.skip_space();
        if self.rest().starts_with(symbol) {
            self.at += symbol.len();
            true
        } else {
            false
        }
    }

    fn expect(&mut self, symbol: &str) -> Result<(), String> {
        if self.symbol(symbol) {
            Ok(())
        } else {
            Err(format!(
                "expected '{symbol}' at position {}: '{}'",
                self.at,
                self.rest_preview()
            ))
        }
    }

    fn or(&mut self) -> Result<Condition, String> {
        let mut left = self.and()?;
        while self.keyword("OR") || self.symbol("||") {
            left = Condition::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Condition, String> {
        let mut left = self.unary()?;
        while self.keyword("AND") || self.symbol("&&") {
            left = Condition::And(Box::new(left), Box::new(self.unary()?));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Condition, String> {
        if self.symbol("!") || self.keyword("NOT") {
            return Ok(Condition::Not(Box::new(self.unary()?)));
        }
        if self.symbol("(") {
            let inner = self.or()?;
            self.expect(")")?;
            return Ok(inner);
        }
        if self.keyword("ActionMatches") {
            self.expect("{")?;
            let action = self.quoted()?;
            self.expect("}")?;
            return Ok(Condition::ActionMatches(action));
        }
        if self.symbol("@Request[") {
            let end = self.rest().find(']').ok_or("an unclosed @Request[")?;
            let attribute = self.rest()[..end].trim().to_owned();
            self.at += end + 1;
            self.skip_space();
            let word_end = self
                .rest()
                .find(|c: char| !c.is_ascii_alphanumeric())
                .unwrap_or(self.rest().len());
            let word = self.rest()[..word_end].to_owned();
            self.at += word_end;
            let (negated, base) = match word.strip_prefix("StringNot") {
                Some(rest) => (true, rest.to_owned()),
                None => (
                    false,
                    word.strip_prefix("String").unwrap_or_default().to_owned(),
                ),
            };
            let (base, ignore_case) = match base.strip_suffix("IgnoreCase") {
                Some(b) => (b.to_owned(), true),
                None => (base, false),
            };
            let operator = match base.as_str() {
                "Equals" => Operator::Equals,
                "StartsWith" => Operator::StartsWith,
                "Like" => Operator::Like,
                _ => return Err(format!("the operator '{word}' is not supported")),
            };
            let value = self.quoted()?;
            return Ok(Condition::Compare {
                attribute,
                operator,
                ignore_case,
                negated,
                value,
            });
        }
        Err(format!(
            "unexpected text at position {}: '{}'",
            self.at,
            self.rest_preview()
        ))
    }

    fn quoted(&mut self) -> Result<String, String> {
        self.expect("'")?;
        let end = self.rest().find('\'').ok_or("an unclosed quote")?;
        let value = self.rest()[..end].to_owned();
        self.at += end + 1;
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const READ: &str = "Microsoft.ContainerRegistry/registries/repositories/content/read";
    const WRITE: &str = "Microsoft.ContainerRegistry/registries/repositories/content/write";

    #[test]
    fn acr_repository_conditions_limit_data_actions_to_their_repositories() -> Result<(), String> {
        let c = Condition::parse(
            "((!(ActionMatches{'Microsoft.ContainerRegistry/registries/repositories/content/read'}) AND !(ActionMatches{'Microsoft.ContainerRegistry/registries/repositories/metadata/read'})) OR (@Request[Microsoft.ContainerRegistry/registries/repositories:name] StringStartsWithIgnoreCase 'team-a/'))",
        )?;
        let at = |repo| RequestAttributes {
            repository: Some(repo),
        };
        assert!(c.holds(READ, &at("Team-A/app")));
        assert!(!c.holds(READ, &at("team-b/app")));
        assert!(
            c.holds(WRITE, &at("team-b/app")),
            "the condition speaks of reads only"
        );
        assert!(
            !c.holds(READ, &RequestAttributes::default()),
            "no repository, no match"
        );
        let exact = Condition::parse(
            "@Request[Microsoft.ContainerRegistry/registries/repositories:name] StringEquals 'app'",
        )?;
        assert!(exact.holds(READ, &at("app")) && !exact.holds(READ, &at("App")));
        let glob = Condition::parse(
            "@Request[Microsoft.ContainerRegistry/registries/repositories:name] StringLike 'team/*/web'",
        )?;
        assert!(glob.holds(READ, &at("team/x/web")) && !glob.holds(READ, &at("team/x/api")));
        let not = Condition::parse(
            "@Request[Microsoft.ContainerRegistry/registries/repositories:name] StringNotEquals 'secret'",
        )?;
        assert!(not.holds(READ, &at("public")) && !not.holds(READ, &at("secret")));
        Ok(())
    }

    #[test]
    fn conditions_outside_the_grammar_are_refused() {
        for bad in [
            "",
            "(ActionMatches{'x'}",
            "@Request[Microsoft.ContainerRegistry/registries/repositories:name] NumericEquals '1'",
            "@Request[x] StringEquals 'unclosed",
            "ActionMatches{'a'} XOR ActionMatches{'b'}",
            "@Resource[Microsoft.Storage/storageAccounts/blobServices/containers:name] StringEquals 'c'",
        ] {
            assert!(Condition::parse(bad).is_err(), "{bad}");
        }
    }
}
