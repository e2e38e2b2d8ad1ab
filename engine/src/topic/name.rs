//! Topic name rules, as Kafka enforces them.
//!
//! The rules mirror `org.apache.kafka.common.internals.Topic`: `detectInvalidTopic` (what
//! `validate` and `isValid` use) and `hasCollision`. A name Kafka accepts is accepted here and a
//! name Kafka refuses is refused here, so a topic created through ringlog can be mirrored to a
//! Kafka cluster and back. The checks run in Kafka's order (empty, `.`/`..`, length,
//! characters), so the first problem reported is the one Kafka would report.

/// The longest topic name Kafka accepts, in characters (`Topic.MAX_NAME_LENGTH`).
///
/// It leaves room for the partition number in the partition directory name,
/// `<topic>-<partition>`, within a 255-byte file name.
pub const MAX_TOPIC_NAME_CHARS: usize = 249;

/// Why a topic name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TopicNameError {
    /// The name is the empty string.
    #[error(
        "topic name is empty: a name needs 1 to {} ASCII letters, digits, '.', '_' or '-'",
        MAX_TOPIC_NAME_CHARS
    )]
    Empty,
    /// The name has more characters than [`MAX_TOPIC_NAME_CHARS`].
    #[error("topic name is {chars} characters long; the maximum is {max}, shorten it")]
    TooLong {
        /// Characters (Unicode scalar values) in the refused name.
        chars: usize,
        /// The limit, [`MAX_TOPIC_NAME_CHARS`].
        max: usize,
    },
    /// The name is exactly `.` or `..`, which would name the data directory itself or its
    /// parent once the partition directory is built from it.
    #[error(
        "topic name {name:?} is not allowed: '.' and '..' are reserved directory names; \
         add a letter, digit, '_' or '-'"
    )]
    DotOrDotDot {
        /// The refused name, `.` or `..`.
        name: String,
    },
    /// The name holds a character outside `[A-Za-z0-9._-]`.
    #[error(
        "topic name {name:?} has illegal character {char:?} at position {position}: \
         only ASCII letters, digits, '.', '_' and '-' are allowed"
    )]
    IllegalChar {
        /// The refused name.
        name: String,
        /// The first illegal character.
        char: char,
        /// Its 0-based position, counted in characters.
        position: usize,
    },
}

/// Validates as Kafka's `org.apache.kafka.common.internals.Topic.validate`: 1..=249 chars of
/// [A-Za-z0-9._-], not "." or "..".
///
/// Leading, trailing and repeated dots are fine (`..a` and `a..` are valid topics in Kafka), as
/// are names starting with `__`, which Kafka reserves for its internal topics by convention
/// only.
///
/// Kafka measures the length in UTF-16 units and this function in characters; the two differ
/// only for names with non-ASCII characters, which are refused either way, so the two accept
/// exactly the same names.
///
/// # Errors
///
/// The first rule the name breaks, in Kafka's order: [`TopicNameError::Empty`],
/// [`TopicNameError::DotOrDotDot`], [`TopicNameError::TooLong`],
/// [`TopicNameError::IllegalChar`].
pub fn validate_topic_name(name: &str) -> Result<(), TopicNameError> {
    if name.is_empty() {
        return Err(TopicNameError::Empty);
    }
    if name == "." || name == ".." {
        return Err(TopicNameError::DotOrDotDot {
            name: name.to_owned(),
        });
    }
    // A name of at most MAX bytes has at most MAX characters: skip the count for the usual case.
    if name.len() > MAX_TOPIC_NAME_CHARS {
        let chars = name.chars().count();
        if chars > MAX_TOPIC_NAME_CHARS {
            return Err(TopicNameError::TooLong {
                chars,
                max: MAX_TOPIC_NAME_CHARS,
            });
        }
    }
    if let Some((position, char)) = name.chars().enumerate().find(|&(_, c)| !is_legal_char(c)) {
        return Err(TopicNameError::IllegalChar {
            name: name.to_owned(),
            char,
            position,
        });
    }
    Ok(())
}

/// Kafka warns that '.' and '_' collide in metric names: true if two names differ only by '.'
/// vs '_'.
///
/// Kafka's metric names replace '.' with '_', so `my.topic` and `my_topic` would report into
/// the same metrics; Kafka refuses to create a topic that collides with an existing one.
/// Like Kafka's `Topic.hasCollision`, equal names also collide: check for an existing topic of
/// the same name first if that needs its own error.
pub fn collides(a: &str, b: &str) -> bool {
    // Byte-wise is the same as character-wise here: '.' and '_' are ASCII, and UTF-8 never
    // uses an ASCII byte inside a multi-byte character.
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .all(|(x, y)| unify_collision_byte(x) == unify_collision_byte(y))
}

/// Kafka's `Topic.unifyCollisionChars` for one byte: '.' becomes '_'.
fn unify_collision_byte(byte: u8) -> u8 {
    if byte == b'.' { b'_' } else { byte }
}

/// Kafka's `Topic.LEGAL_CHARS`, `[a-zA-Z0-9._-]`.
fn is_legal_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn illegal(name: &str, char: char, position: usize) -> Result<(), TopicNameError> {
        Err(TopicNameError::IllegalChar {
            name: name.to_owned(),
            char,
            position,
        })
    }

    #[test]
    fn ordinary_names_are_valid() {
        for name in [
            "a",
            "orders",
            "Orders-2024_v1.events",
            "__consumer_offsets",
            "-",
            "_",
            "0",
            "a.b.c",
            "UPPER-lower_123",
        ] {
            assert_eq!(validate_topic_name(name), Ok(()), "{name:?}");
        }
    }

    #[test]
    fn empty_name_is_refused() {
        assert_eq!(validate_topic_name(""), Err(TopicNameError::Empty));
    }

    #[test]
    fn length_limit_is_249_characters() {
        let longest = "a".repeat(MAX_TOPIC_NAME_CHARS);
        assert_eq!(validate_topic_name(&longest), Ok(()));

        let too_long = "a".repeat(MAX_TOPIC_NAME_CHARS + 1);
        assert_eq!(
            validate_topic_name(&too_long),
            Err(TopicNameError::TooLong {
                chars: 250,
                max: 249
            })
        );
    }

    #[test]
    fn length_counts_characters_not_bytes() {
        // 125 two-byte characters: 250 bytes but 125 characters, so the length check passes
        // and the character check refuses it.
        let name = "ø".repeat(125);
        assert_eq!(validate_topic_name(&name), illegal(&name, 'ø', 0));
    }

    #[test]
    fn dot_and_dot_dot_are_refused() {
        for name in [".", ".."] {
            assert_eq!(
                validate_topic_name(name),
                Err(TopicNameError::DotOrDotDot {
                    name: name.to_owned()
                })
            );
        }
    }

    #[test]
    fn dots_elsewhere_are_allowed_as_in_kafka() {
        for name in ["...", "..a", "a..", ".a", "a.", ".hidden", "a..b"] {
            assert_eq!(validate_topic_name(name), Ok(()), "{name:?}");
        }
    }

    #[test]
    fn path_separators_are_refused() {
        assert_eq!(validate_topic_name("../x"), illegal("../x", '/', 2));
        assert_eq!(validate_topic_name("a/b"), illegal("a/b", '/', 1));
        assert_eq!(validate_topic_name("a\\b"), illegal("a\\b", '\\', 1));
    }

    #[test]
    fn control_and_space_characters_are_refused() {
        assert_eq!(validate_topic_name("a\0b"), illegal("a\0b", '\0', 1));
        assert_eq!(validate_topic_name("a b"), illegal("a b", ' ', 1));
        assert_eq!(validate_topic_name("a\n"), illegal("a\n", '\n', 1));
    }

    #[test]
    fn non_ascii_letters_are_refused_at_their_character_position() {
        assert_eq!(validate_topic_name("tøpic"), illegal("tøpic", 'ø', 1));
        // Position counts characters, not bytes: 'é' is two bytes.
        assert_eq!(validate_topic_name("é/"), illegal("é/", 'é', 0));
        assert_eq!(validate_topic_name("aéb!"), illegal("aéb!", 'é', 1));
    }

    #[test]
    fn checks_run_in_kafkas_order() {
        // Too long and illegal: Kafka reports the length first.
        let name = "/".repeat(300);
        assert!(matches!(
            validate_topic_name(&name),
            Err(TopicNameError::TooLong { chars: 300, .. })
        ));
    }

    #[test]
    fn messages_name_the_problem_and_the_rule() {
        let err = validate_topic_name("a/b").unwrap_err();
        assert_eq!(
            err.to_string(),
            "topic name \"a/b\" has illegal character '/' at position 1: \
             only ASCII letters, digits, '.', '_' and '-' are allowed"
        );
        let err = validate_topic_name("a\0b").unwrap_err();
        assert!(err.to_string().contains(r"'\0' at position 1"), "{err}");
        assert_eq!(
            TopicNameError::Empty.to_string(),
            "topic name is empty: a name needs 1 to 249 ASCII letters, digits, '.', '_' or '-'"
        );
        let err = validate_topic_name(&"a".repeat(250)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "topic name is 250 characters long; the maximum is 249, shorten it"
        );
        let err = validate_topic_name("..").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("topic name \"..\" is not allowed"),
            "{err}"
        );
    }

    #[test]
    fn dot_and_underscore_collide() {
        assert!(collides("my.topic", "my_topic"));
        assert!(collides("my_topic", "my.topic"));
        assert!(collides("a.b_c", "a_b.c"));
        assert!(collides("._", "_."));
    }

    #[test]
    fn equal_names_collide_as_in_kafka() {
        assert!(collides("orders", "orders"));
        assert!(collides("", ""));
    }

    #[test]
    fn other_differences_do_not_collide() {
        assert!(!collides("my.topic", "my-topic"));
        assert!(!collides("my_topic", "my-topic"));
        assert!(!collides("a.b", "a.bc"));
        assert!(!collides("orders", "Orders"));
        assert!(!collides("a", ""));
    }
}
