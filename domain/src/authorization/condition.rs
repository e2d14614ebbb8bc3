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

use super::permission::glob;

/// The attribute naming a repository.
pub const REPOSITORY_NAME: &str = "Microsoft.ContainerRegistry/registries/repositories:name";

/// The longest condition taken, in bytes (Azure refuses conditions of a few KiB as well).
pub const MAX_CONDITION_BYTES: usize = 8192;

/// How deeply `!`/`NOT` and parentheses may nest.
pub const MAX_CONDITION_DEPTH: usize = 32;

/// Why a condition is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConditionError {
    /// Longer than [`MAX_CONDITION_BYTES`].
    #[error(
        "the condition is {length} bytes long; at most {MAX_CONDITION_BYTES} bytes are allowed"
    )]
    TooLong {
        /// Its length in bytes.
        length: usize,
    },
    /// Nested deeper than [`MAX_CONDITION_DEPTH`].
    #[error(
        "the condition nests '!', 'NOT' and parentheses more than {MAX_CONDITION_DEPTH} deep (at position {at})"
    )]
    TooDeep {
        /// Where the limit was passed.
        at: usize,
    },
    /// Outside the grammar.
    #[error("{0}")]
    Syntax(String),
}

impl From<String> for ConditionError {
    fn from(message: String) -> Self {
        Self::Syntax(message)
    }
}

impl From<&str> for ConditionError {
    fn from(message: &str) -> Self {
        Self::Syntax(message.to_owned())
    }
}

/// What a condition may ask about a request.
#[derive(Debug, Clone, Copy, Default)]
pub struct RequestAttributes<'a> {
    /// The repository the request is about, when it is about one.
    pub repository: Option<&'a str>,
}

/// A parsed condition. Chains of `AND` and of `OR` are kept flat, so the tree is never
/// deeper than the nesting the parser allows, however long the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Condition {
    /// All of them hold.
    All(Vec<Condition>),
    /// At least one of them holds.
    Any(Vec<Condition>),
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
    /// Glob with `*` (any run of characters) and `?` (one character).
    Like,
}

/// Whether `text` matches the glob `pattern` (`*` any run, `?` one character), in time
/// bounded by the product of their lengths.
fn like(pattern: &str, text: &str) -> bool {
    let pattern: Vec<char> = pattern.chars().collect();
    let text: Vec<char> = text.chars().collect();
    glob(&pattern, &text, &'*', |p, t| *p == '?' || p == t)
}

impl Condition {
    /// Parses a condition.
    ///
    /// # Errors
    /// A condition longer than [`MAX_CONDITION_BYTES`], nested deeper than
    /// [`MAX_CONDITION_DEPTH`], or what is not understood, and where.
    pub fn parse(text: &str) -> Result<Self, ConditionError> {
        if text.len() > MAX_CONDITION_BYTES {
            return Err(ConditionError::TooLong { length: text.len() });
        }
        let mut parser = Parser {
            text,
            at: 0,
            depth: 0,
        };
        let condition = parser.or()?;
        parser.skip_space();
        if parser.at != text.len() {
            return Err(parser.unexpected());
        }
        Ok(condition)
    }

    /// Whether the condition holds for `action` with the request's attributes. An attribute
    /// the request does not have makes its comparison false.
    #[must_use]
    pub fn holds(&self, action: &str, request: &RequestAttributes<'_>) -> bool {
        match self {
            Self::All(all) => all.iter().all(|c| c.holds(action, request)),
            Self::Any(any) => any.iter().any(|c| c.holds(action, request)),
            Self::Not(a) => !a.holds(action, request),
            Self::ActionMatches(pattern) => match pattern.strip_suffix('*') {
                Some(prefix) => action
                    .get(..prefix.len())
                    .is_some_and(|head| head.eq_ignore_ascii_case(prefix)),
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
                    Operator::Like => like(&value, &actual),
                };
                matched != *negated
            }
        }
    }
}

struct Parser<'a> {
    text: &'a str,
    at: usize,
    /// How many `!`/`NOT` and parentheses enclose the current position.
    depth: usize,
}

impl Parser<'_> {
    fn rest(&self) -> &str {
        &self.text[self.at..]
    }

    fn unexpected(&self) -> ConditionError {
        let preview: String = self.rest().chars().take(40).collect();
        ConditionError::Syntax(format!(
            "unexpected text at position {}: '{preview}'",
            self.at
        ))
    }

    fn skip_space(&mut self) {
        let trimmed = self.rest().trim_start();
        self.at = self.text.len() - trimmed.len();
    }

    fn keyword(&mut self, word: &str) -> bool {
        self.skip_space();
        let rest = self.rest();
        let matches = rest
            .get(..word.len())
            .is_some_and(|head| head.eq_ignore_ascii_case(word))
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

    fn expect(&mut self, symbol: &str) -> Result<(), ConditionError> {
        if self.symbol(symbol) {
            Ok(())
        } else {
            let preview: String = self.rest().chars().take(40).collect();
            Err(ConditionError::Syntax(format!(
                "expected '{symbol}' at position {}: '{preview}'",
                self.at
            )))
        }
    }

    fn or(&mut self) -> Result<Condition, ConditionError> {
        let mut any = vec![self.and()?];
        while self.keyword("OR") || self.symbol("||") {
            any.push(self.and()?);
        }
        Ok(if any.len() == 1 {
            any.swap_remove(0)
        } else {
            Condition::Any(any)
        })
    }

    fn and(&mut self) -> Result<Condition, ConditionError> {
        let mut all = vec![self.unary()?];
        while self.keyword("AND") || self.symbol("&&") {
            all.push(self.unary()?);
        }
        Ok(if all.len() == 1 {
            all.swap_remove(0)
        } else {
            Condition::All(all)
        })
    }

    /// Enters one level of `!`/`NOT` or parentheses, refusing to pass the depth limit: the
    /// parser recurses only here, so its stack is bounded whatever the input.
    fn nested(
        &mut self,
        inner: impl FnOnce(&mut Self) -> Result<Condition, ConditionError>,
    ) -> Result<Condition, ConditionError> {
        if self.depth >= MAX_CONDITION_DEPTH {
            return Err(ConditionError::TooDeep { at: self.at });
        }
        self.depth += 1;
        let parsed = inner(self);
        self.depth -= 1;
        parsed
    }

    fn unary(&mut self) -> Result<Condition, ConditionError> {
        if self.symbol("!") || self.keyword("NOT") {
            return self.nested(|p| Ok(Condition::Not(Box::new(p.unary()?))));
        }
        if self.symbol("(") {
            return self.nested(|p| {
                let inner = p.or()?;
                p.expect(")")?;
                Ok(inner)
            });
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
                _ => {
                    return Err(ConditionError::Syntax(format!(
                        "the operator '{word}' is not supported"
                    )));
                }
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
        Err(self.unexpected())
    }

    fn quoted(&mut self) -> Result<String, ConditionError> {
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
    use proptest::prelude::*;

    const READ: &str = "Microsoft.ContainerRegistry/registries/repositories/content/read";
    const WRITE: &str = "Microsoft.ContainerRegistry/registries/repositories/content/write";

    #[test]
    fn acr_repository_conditions_limit_data_actions_to_their_repositories()
    -> Result<(), ConditionError> {
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

    const REPO: &str = "@Request[Microsoft.ContainerRegistry/registries/repositories:name]";

    #[test]
    fn two_hundred_thousand_negations_are_refused_without_overflowing_the_stack() {
        let bang = format!("{}ActionMatches{{'a'}}", "!".repeat(200_000));
        assert!(matches!(
            Condition::parse(&bang),
            Err(ConditionError::TooLong { length }) if length == bang.len()
        ));
        // Within the length limit, the nesting limit is what refuses it.
        for (open, close) in [("!", ""), ("NOT ", ""), ("(", ")"), ("!(", ")")] {
            let deep = format!(
                "{}ActionMatches{{'a'}}{}",
                open.repeat(1000),
                close.repeat(1000)
            );
            assert!(deep.len() <= MAX_CONDITION_BYTES);
            assert!(
                matches!(Condition::parse(&deep), Err(ConditionError::TooDeep { .. })),
                "{open}"
            );
        }
        let nine_kib = format!("{REPO} StringEquals '{}'", "a".repeat(9 * 1024));
        assert!(matches!(
            Condition::parse(&nine_kib),
            Err(ConditionError::TooLong { .. })
        ));
    }

    #[test]
    fn nesting_up_to_the_limit_is_taken_and_evaluated() -> Result<(), ConditionError> {
        let depth = MAX_CONDITION_DEPTH;
        let even = format!(
            "{}ActionMatches{{'{READ}'}}{}",
            "!(".repeat(depth / 2),
            ")".repeat(depth / 2)
        );
        let c = Condition::parse(&even)?;
        assert!(c.holds(READ, &RequestAttributes::default()));
        assert!(!c.holds(WRITE, &RequestAttributes::default()));
        let over = format!("!{even}");
        assert!(matches!(
            Condition::parse(&over),
            Err(ConditionError::TooDeep { .. })
        ));
        // A long flat chain is not nesting: it parses at any length within the byte limit.
        let chain = vec!["ActionMatches{'x'}"; 300].join(" OR ");
        let c = Condition::parse(&chain)?;
        assert!(matches!(&c, Condition::Any(any) if any.len() == 300));
        assert!(!c.holds(READ, &RequestAttributes::default()));
        Ok(())
    }

    #[test]
    fn many_stars_do_not_make_string_like_exponential() -> Result<(), ConditionError> {
        // The audit's pattern: a backtracking glob takes seconds with five `*a`, and would not
        // finish with thirty against a 10 KB name.
        let pattern = "*a".repeat(30);
        let c = Condition::parse(&format!("{REPO} StringLike '{pattern}'"))?;
        let name = format!("{}b", "a".repeat(10_000));
        let at = |repo| RequestAttributes {
            repository: Some(repo),
        };
        assert!(!c.holds(READ, &at(&name)));
        assert!(c.holds(READ, &at(&name[..10_000])));
        let stars = format!("{REPO} StringLike '{}'", "*".repeat(8000));
        assert!(Condition::parse(&stars)?.holds(READ, &at(&name)));
        Ok(())
    }

    #[test]
    fn multibyte_text_next_to_a_keyword_is_refused_not_a_panic() {
        for text in ["aé", "ActionMatches{'é'} Oé", "!é", "ActionMatches{'x'} Aé"] {
            assert!(Condition::parse(text).is_err(), "{text}");
        }
        let c = Condition::parse("ActionMatches{'Microsoft.*'}").unwrap_or_else(|e| panic!("{e}"));
        assert!(!c.holds("Microsofté/x", &RequestAttributes::default()));
    }

    /// The glob's specification: a dynamic program over every pair of positions.
    fn like_reference(pattern: &[char], text: &[char]) -> bool {
        let mut table = vec![vec![false; text.len() + 1]; pattern.len() + 1];
        table[0][0] = true;
        for p in 1..=pattern.len() {
            for t in 0..=text.len() {
                table[p][t] = match pattern[p - 1] {
                    '*' => table[p - 1][t] || (t > 0 && table[p][t - 1]),
                    '?' => t > 0 && table[p - 1][t - 1],
                    c => t > 0 && text[t - 1] == c && table[p - 1][t - 1],
                };
            }
        }
        table[pattern.len()][text.len()]
    }

    /// Fragments a hostile condition is made of: a random string of them reaches far more of
    /// the grammar than random characters do.
    fn fragment() -> impl Strategy<Value = &'static str> {
        prop::sample::select(vec![
            "!",
            "NOT ",
            "(",
            ")",
            " AND ",
            " OR ",
            "&&",
            "||",
            "ActionMatches{'",
            "'}",
            "{",
            "}",
            "'",
            "*",
            "?",
            "a",
            "é",
            " ",
            "@Request[",
            "]",
            "Microsoft.ContainerRegistry/registries/repositories:name",
            " StringLike ",
            " StringNotEqualsIgnoreCase ",
            " StringStartsWith ",
            "'team/*'",
        ])
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

        #[test]
        fn string_like_agrees_with_its_reference(pattern in "[ab*?é]{0,12}", text in "[abé]{0,16}") {
            let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
            prop_assert_eq!(like(&pattern, &text), like_reference(&p, &t));
        }

        #[test]
        fn the_parser_never_panics_on_random_fragments(parts in prop::collection::vec(fragment(), 0..60), repo in "[a-zé/]{0,12}") {
            let text = parts.concat();
            if let Ok(c) = Condition::parse(&text) {
                let at = RequestAttributes { repository: Some(&repo) };
                let _ = c.holds(READ, &at);
                let _ = c.holds("é", &RequestAttributes::default());
            }
        }

        #[test]
        fn the_parser_never_panics_on_random_text(text in "\\PC{0,200}") {
            let _ = Condition::parse(&text);
        }
    }
}
