//! Topic names through the topic manager: every refused name is refused with the reason, and
//! neither a refused nor an accepted name creates anything outside the data directory; the
//! longest legal name (249 characters) works end to end; names that differ only by '.' versus
//! '_' collide, also when both are created at the same moment. Runs on every I/O path.

mod common;
mod topic_common;

use std::path::{Path, PathBuf};
use std::sync::Barrier;

use common::for_each_io_mode;
use ringlog::topic::TopicNameError;
use ringlog::topic::name::MAX_TOPIC_NAME_CHARS;
use ringlog::{TopicConfig, TopicError};
use topic_common::{open_manager, read_partition, record};

/// Every path under `root`, relative to it, sorted.
fn tree(root: &Path) -> Vec<PathBuf> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).expect("list directory") {
            let path = entry.expect("list directory").path();
            out.push(path.strip_prefix(root).expect("under root").to_path_buf());
            if path.is_dir() {
                walk(root, &path, out);
            }
        }
    }
    let mut out = Vec::new();
    walk(root, root, &mut out);
    out.sort();
    out
}

/// A parent directory holding the data directory `data`, so that anything created beside or
/// above the data directory shows up in the parent's tree.
struct Sandbox {
    parent: tempfile::TempDir,
}

impl Sandbox {
    fn new() -> Self {
        Sandbox {
            parent: tempfile::tempdir().expect("temp dir"),
        }
    }

    fn data_dir(&self) -> PathBuf {
        self.parent.path().join("data")
    }

    /// Paths in the parent that are not inside the data directory.
    fn outside_data_dir(&self) -> Vec<PathBuf> {
        tree(self.parent.path())
            .into_iter()
            .filter(|p| !p.starts_with("data/") && p != Path::new("data"))
            .collect()
    }
}

/// The refused names: `(name, the error, what its message says)`.
fn refused_cases(too_long: &str) -> [(&str, TopicNameError, &'static str); 9] {
    [
        ("", TopicNameError::Empty, "topic name is empty"),
        (
            too_long,
            TopicNameError::TooLong {
                chars: 250,
                max: 249,
            },
            "topic name is 250 characters long; the maximum is 249",
        ),
        (
            ".",
            TopicNameError::DotOrDotDot {
                name: ".".to_string(),
            },
            "'.' and '..' are reserved directory names",
        ),
        (
            "..",
            TopicNameError::DotOrDotDot {
                name: "..".to_string(),
            },
            "'.' and '..' are reserved directory names",
        ),
        (
            "../x",
            TopicNameError::IllegalChar {
                name: "../x".to_string(),
                char: '/',
                position: 2,
            },
            "illegal character '/' at position 2",
        ),
        (
            "a/b",
            TopicNameError::IllegalChar {
                name: "a/b".to_string(),
                char: '/',
                position: 1,
            },
            "illegal character '/' at position 1",
        ),
        (
            "a\0b",
            TopicNameError::IllegalChar {
                name: "a\0b".to_string(),
                char: '\0',
                position: 1,
            },
            r"illegal character '\0' at position 1",
        ),
        (
            "a b",
            TopicNameError::IllegalChar {
                name: "a b".to_string(),
                char: ' ',
                position: 1,
            },
            "illegal character ' ' at position 1",
        ),
        (
            "tøpic",
            TopicNameError::IllegalChar {
                name: "tøpic".to_string(),
                char: 'ø',
                position: 1,
            },
            "illegal character 'ø' at position 1",
        ),
    ]
}

#[test]
fn refused_names_say_why_and_create_nothing() {
    let too_long = "a".repeat(MAX_TOPIC_NAME_CHARS + 1);
    let cases = refused_cases(&too_long);
    for_each_io_mode(|io_mode| {
        let sandbox = Sandbox::new();
        let manager = open_manager(&sandbox.data_dir(), io_mode);
        let outside_before = sandbox.outside_data_dir();
        let data_before = tree(&sandbox.data_dir());

        for (name, expected, why) in &cases {
            match manager.create_topic(name, TopicConfig::default()) {
                Err(TopicError::InvalidName(got)) => {
                    assert_eq!(&got, expected, "create {name:?}");
                    let message = TopicError::InvalidName(got).to_string();
                    assert!(
                        message.contains(why),
                        "create {name:?}: message {message:?} does not say {why:?}"
                    );
                }
                other => panic!("create {name:?}: expected InvalidName, got {other:?}"),
            }
            assert_eq!(
                sandbox.outside_data_dir(),
                outside_before,
                "create {name:?} touched the parent directory"
            );
            assert_eq!(
                tree(&sandbox.data_dir()),
                data_before,
                "a refused create of {name:?} left files behind"
            );
        }
        assert!(manager.list_topics().is_empty());
        manager.close().expect("close");
    });
}

/// Names near the limit of 249 characters. The partition directory `<name>-<p>` and the
/// metadata file `<name>.json` fit in a 255-byte file name for every legal name, and so must
/// every other file the manager names after the topic.
#[test]
fn names_up_to_the_longest_legal_one_work_end_to_end() {
    for_each_io_mode(|io_mode| {
        let sandbox = Sandbox::new();
        let data_dir = sandbox.data_dir();
        let names: Vec<String> = (MAX_TOPIC_NAME_CHARS - 3..=MAX_TOPIC_NAME_CHARS)
            .map(|chars| "a".repeat(chars))
            .collect();
        {
            let manager = open_manager(&data_dir, io_mode);
            let outside_before = sandbox.outside_data_dir();
            let refused: Vec<String> = names
                .iter()
                .filter_map(|name| {
                    let config = TopicConfig {
                        partitions: 2,
                        ..TopicConfig::default()
                    };
                    let err = manager.create_topic(name, config).err()?;
                    Some(format!("{} characters: {err}", name.len()))
                })
                .collect();
            assert!(
                refused.is_empty(),
                "legal names of up to {MAX_TOPIC_NAME_CHARS} characters were refused:\n{}",
                refused.join("\n")
            );
            assert_eq!(sandbox.outside_data_dir(), outside_before);
            for name in &names {
                assert!(data_dir.join(format!("{name}-1")).is_dir());
                manager
                    .produce(name, Some(1), &[record(Some(b"k"), b"v")])
                    .expect("produce");
            }
            manager.close().expect("close");
        }
        let manager = open_manager(&data_dir, io_mode);
        assert_eq!(manager.list_topics(), names);
        for name in &names {
            assert_eq!(read_partition(&manager, name, 1).len(), 1);
            manager.delete_topic(name).expect("delete");
            assert!(!data_dir.join(format!("{name}-1")).exists());
        }
        assert!(manager.list_topics().is_empty());
        manager.close().expect("close");
    });
}

#[test]
fn dot_and_underscore_names_collide() {
    for_each_io_mode(|io_mode| {
        let sandbox = Sandbox::new();
        let data_dir = sandbox.data_dir();
        let manager = open_manager(&data_dir, io_mode);
        manager
            .create_topic("a_b", TopicConfig::default())
            .expect("create a_b");
        let data_before = tree(&data_dir);
        match manager.create_topic("a.b", TopicConfig::default()) {
            Err(TopicError::Collides { topic, existing }) => {
                assert_eq!((topic.as_str(), existing.as_str()), ("a.b", "a_b"));
            }
            other => panic!("create a.b beside a_b: expected Collides, got {other:?}"),
        }
        let message = manager
            .create_topic("a.b", TopicConfig::default())
            .unwrap_err()
            .to_string();
        assert!(
            message.contains("\"a.b\"") && message.contains("\"a_b\""),
            "{message}"
        );
        assert_eq!(tree(&data_dir), data_before, "a refused create left files");

        manager
            .create_topic("x.y", TopicConfig::default())
            .expect("create x.y");
        assert!(matches!(
            manager.create_topic("x_y", TopicConfig::default()),
            Err(TopicError::Collides { topic, existing }) if topic == "x_y" && existing == "x.y"
        ));
        // '-' is no metric-name separator: no collision.
        manager
            .create_topic("a-b", TopicConfig::default())
            .expect("create a-b");
        // Once the existing topic is gone, the other spelling is free.
        manager.delete_topic("a_b").expect("delete a_b");
        manager
            .create_topic("a.b", TopicConfig::default())
            .expect("create a.b after a_b is gone");
        assert_eq!(manager.list_topics(), ["a-b", "a.b", "x.y"]);
        manager.close().expect("close");
    });
}

/// Kafka's controller refuses the second of two colliding names however close together they
/// arrive; two threads creating `race.N` and `race_N` at once must not both succeed.
#[test]
fn colliding_names_created_at_once_do_not_both_succeed() {
    const ROUNDS: usize = 20;
    for_each_io_mode(|io_mode| {
        let sandbox = Sandbox::new();
        let manager = open_manager(&sandbox.data_dir(), io_mode);
        let barrier = Barrier::new(2);
        let mut both = Vec::new();
        for round in 0..ROUNDS {
            let names = [format!("race.{round}"), format!("race_{round}")];
            let outcomes: Vec<Result<(), TopicError>> = std::thread::scope(|s| {
                let handles: Vec<_> = names
                    .iter()
                    .map(|name| {
                        let (manager, barrier) = (&manager, &barrier);
                        s.spawn(move || {
                            barrier.wait();
                            manager.create_topic(name, TopicConfig::default()).map(drop)
                        })
                    })
                    .collect();
                handles
                    .into_iter()
                    .map(|h| h.join().expect("create thread"))
                    .collect()
            });
            for outcome in &outcomes {
                if let Err(e) = outcome {
                    assert!(
                        matches!(e, TopicError::Collides { .. }),
                        "round {round}: unexpected error {e:?}"
                    );
                }
            }
            if outcomes.iter().all(Result::is_ok) {
                both.push(names);
            }
        }
        assert!(
            both.is_empty(),
            "created at the same moment, both colliding names were accepted in {} of {ROUNDS} \
             rounds, e.g. {:?}; topics now: {:?}",
            both.len(),
            both[0],
            manager.list_topics()
        );
        manager.close().expect("close");
    });
}
