//! The configuration as a user meets it: the shipped example, the defaults,
//! and the exact `file:line:col: message` for the mistakes people make.

use hotline::config::{AgentConfig, Config, PortRange};
use hotline::ivr::{Calendar, CalendarTime};
use hotline::role::Role;
use hotline::sip::digest::Algorithm;
use hotline::store::QueueSkill;
use proptest::prelude::*;

const EXAMPLE: &str = include_str!("../hotline.example.toml");

fn example_agents() -> Vec<AgentConfig> {
    vec![
        AgentConfig {
            login: "1001".into(),
            name: "Contact manager 1001".into(),
            role: Role::ContactManager,
            password: "change-me-1001".into(),
            queues: vec![QueueSkill::new("general")],
            digest_algorithms: vec![Algorithm::Md5],
            nat: false,
        },
        AgentConfig {
            login: "2001".into(),
            name: "Admission manager 2001".into(),
            role: Role::AdmissionManager,
            password: "change-me-2001".into(),
            queues: vec![QueueSkill {
                queue: "admission".into(),
                skill: 2,
            }],
            digest_algorithms: vec![Algorithm::Sha256, Algorithm::Md5],
            nat: false,
        },
    ]
}

#[test]
fn example_file_is_the_defaults_plus_two_demo_agents() {
    let parsed = Config::from_toml_str(EXAMPLE, "hotline.example.toml").unwrap();
    let expected = Config {
        agents: example_agents(),
        ..Config::default()
    };
    assert_eq!(parsed, expected);
}

/// A key added to `Config` must be documented in the example (written out,
/// or commented out when its default cannot be written literally).
#[test]
fn example_file_mentions_every_key() {
    let mut defaults = toml::Table::try_from(Config::default()).unwrap();
    defaults.remove("agents");
    // Arrays of tables, checked key by key below.
    defaults.remove("queues");
    defaults.remove("departments");
    let documented = |key: &str| {
        EXAMPLE.lines().any(|line| {
            let line = line.trim_start_matches(['#', ' ']);
            line.starts_with(&format!("{key} ="))
        })
    };
    for (table, keys) in &defaults {
        assert!(EXAMPLE.contains(&format!("[{table}]")), "[{table}] missing");
        for key in keys.as_table().unwrap().keys() {
            let sub_table = EXAMPLE.contains(&format!("[{table}.{key}]"));
            assert!(
                documented(key) || sub_table,
                "{table}.{key} is not documented"
            );
        }
    }
    assert!(documented("domain"), "sip.domain is not documented");
    for agent_key in [
        "login",
        "name",
        "role",
        "password",
        "queues",
        "digest_algorithms",
        "nat",
        "strategy",
        "ring_timeout_s",
        "wrap_up_s",
        "max_wait_s",
        "overflow",
        "personal_ring_s",
        "announce_every_s",
        "number",
    ] {
        assert!(
            EXAMPLE.contains(agent_key),
            "agents.{agent_key} not documented"
        );
    }
}

#[test]
fn an_empty_file_means_every_default() {
    let config = Config::from_toml_str("", "empty.toml").unwrap();
    assert_eq!(config, Config::default());
    assert_eq!(config.sip.listen.to_string(), "0.0.0.0:5060");
    assert_eq!(config.http.listen.to_string(), "127.0.0.1:8080");
    assert_eq!(config.database.url, "sqlite://hotline.db");
    assert_eq!(
        config.media.rtp_ports,
        PortRange {
            lo: 10000,
            hi: 20000
        }
    );
    assert_eq!(
        config.sip.user_agent,
        format!("hotline/{}", env!("CARGO_PKG_VERSION"))
    );
    assert!(Config::default().validate().is_ok());
}

#[test]
fn calendar_defaults_are_weekdays_nine_to_six_moscow_time() {
    let config = Config::from_toml_str("", "empty.toml").unwrap();
    assert_eq!(config.calendar, Calendar::default());
    assert_eq!(config.ivr.reload_interval_ms, 1000);
    let open = |d, h| {
        config
            .calendar
            .is_open(&CalendarTime::new(2026, 11, d, h, 0).unwrap())
    };
    assert!(open(26, 10)); // Thursday 10:00
    assert!(!open(26, 18)); // Thursday 18:00, closed
    assert!(!open(28, 12)); // Saturday
}

#[test]
fn calendar_from_the_config_file() {
    let text = "[calendar]\nutc_offset = \"+05:00\"\nholidays = [\"2026-11-04\"]\n[calendar.hours]\nmon = \"09:00-13:00, 14:00-18:00\"\nsat = \"10:00-14:00\"\n";
    let calendar = Config::from_toml_str(text, "c.toml").unwrap().calendar;
    assert_eq!(calendar.utc_offset_minutes, 300);
    let open = |d, h, m| calendar.is_open(&CalendarTime::new(2026, 11, d, h, m).unwrap());
    assert!(open(2, 9, 0)); // Monday
    assert!(!open(2, 13, 30)); // lunch
    assert!(!open(3, 10, 0)); // Tuesday not listed: closed
    assert!(!open(4, 10, 0)); // holiday
    assert!(open(7, 11, 0)); // Saturday
    // written back (as `example_file_mentions_every_key` does) and read again
    let config = Config {
        calendar: calendar.clone(),
        ..Config::default()
    };
    let written = toml::to_string(&config).unwrap();
    let again = Config::from_toml_str(&written, "w.toml").unwrap();
    assert_eq!(again.calendar, calendar);
}

#[test]
fn agent_defaults_fill_name_algorithms_and_nat() {
    let text = "[[agents]]\nlogin = \"1002\"\nrole = \"contact_manager\"\npassword = \"pw\"\n";
    let config = Config::from_toml_str(text, "a.toml").unwrap();
    let agent = &config.agents[0];
    assert_eq!(agent.name, "1002");
    assert_eq!(agent.digest_algorithms, vec![Algorithm::Md5]);
    assert!(!agent.nat);
    assert!(agent.queues.is_empty());
}

/// Each mistake, the message `hotline check` prints for it.
#[test]
fn mistakes_are_reported_with_file_line_and_column() {
    let cases: &[(&str, &str)] = &[
        // a typo in a key: position of the key, nearest known key suggested
        (
            "[sip]\nlisten = \"0.0.0.0:5060\"\nmin_expire = 30\n",
            "c.toml:3:1: unknown key `min_expire` in [sip], did you mean `min_expires`?",
        ),
        // an unknown table
        (
            "[htpp]\nlisten = \"127.0.0.1:8080\"\n",
            "c.toml:1:2: unknown key `htpp`, did you mean `http`?",
        ),
        // a string where a number goes
        (
            "[sip]\nmax_expires = \"1h\"\n",
            "c.toml:2:15: invalid type: string \"1h\", expected a whole number ≥ 0",
        ),
        // a bad socket address
        (
            "[http]\nlisten = \"localhost\"\n",
            "c.toml:2:10: invalid socket address \"localhost\": expected \"IP:PORT\", e.g. \"127.0.0.1:8080\"",
        ),
        // a bad role
        (
            "[[agents]]\nlogin = \"1001\"\nrole = \"operator\"\npassword = \"pw\"\n",
            "c.toml:3:8: unknown value `operator`, expected one of `contact_manager`, `admission_manager`, `education_manager`, `department_head`, `head`, `admin`",
        ),
        // a bad digest algorithm
        (
            "[[agents]]\nlogin = \"1001\"\nrole = \"head\"\npassword = \"pw\"\ndigest_algorithms = [\"SHA-256\", \"SHA1\"]\n",
            "c.toml:5:33: unknown value `SHA1`, expected `MD5` or `SHA-256`",
        ),
        // a reversed port range
        (
            "[media]\nrtp_ports = \"20000-10000\"\n",
            "c.toml:2:13: invalid port range \"20000-10000\": the first port is greater than the last",
        ),
        // a privileged port range
        (
            "[media]\nrtp_ports = \"100-200\"\n",
            "c.toml:2:13: invalid port range \"100-200\": ports below 1024 are reserved, start at 1024 or above",
        ),
        // min_expires > max_expires
        (
            "[sip]\nmin_expires = 600\nmax_expires = 300\n",
            "c.toml:2:15: min_expires (600) is greater than max_expires (300)",
        ),
        // a missing password
        (
            "[[agents]]\nlogin = \"1001\"\nrole = \"head\"\n",
            "c.toml:1:1: missing key `password` in agents[0]",
        ),
        // an empty password and a duplicate login: both reported, in order
        (
            "[[agents]]\nlogin = \"1001\"\nrole = \"head\"\npassword = \"\"\n\n[[agents]]\nlogin = \"1001\"\nrole = \"head\"\npassword = \"pw\"\n",
            "c.toml:4:12: agent \"1001\" has an empty password\nc.toml:7:9: duplicate agent login \"1001\"",
        ),
        // a typo inside an inline table in an array
        (
            "[[agents]]\nlogin = \"1001\"\nrole = \"head\"\npassword = \"pw\"\nqueues = [\"general\", { queue = \"admission\", skil = 3 }]\n",
            "c.toml:5:45: unknown key `skil` in agents[0].queues[1], did you mean `skill`?",
        ),
        // HTTP and SIP on the same TCP port
        (
            "[sip]\nlisten = \"127.0.0.1:8080\"\n",
            "c.toml:2:10: http.listen (127.0.0.1:8080) collides with sip.listen (127.0.0.1:8080): both need TCP on that port",
        ),
        // a database that is neither SQLite nor PostgreSQL
        (
            "[database]\nurl = \"mysql://db/hotline\"\n",
            "c.toml:2:7: database url \"mysql://db/hotline\" is neither sqlite://FILE nor postgres://USER@HOST/DB",
        ),
        // a number where a list of tables goes
        (
            "agents = 3\n",
            "c.toml:1:10: invalid type: integer `3`, expected an array",
        ),
        // calendar values: each error points at the value itself
        (
            "[calendar]\nutc_offset = \"Moscow\"\n",
            "c.toml:2:14: bad utc_offset `Moscow`: expected like +03:00",
        ),
        (
            "[calendar]\nholidays = [\"2026-01-01\", \"2026-13-01\"]\n",
            "c.toml:2:27: bad holiday `2026-13-01`: expected YYYY-MM-DD",
        ),
        (
            "[calendar]\n[calendar.hours]\nmon = \"09:00-18:00\"\nfri = \"18:00-09:00\"\n",
            "c.toml:4:7: bad hours `18:00-09:00` for fri: expected like 09:00-18:00 or closed",
        ),
        (
            "[calendar]\n[calendar.hours]\nfriday = \"09:00-18:00\"\n",
            "c.toml:3:1: unknown key `friday` in [calendar.hours] (expected one of: mon, tue, wed, thu, fri, sat, sun)",
        ),
        (
            "[calendar]\nutc_ofset = \"+03:00\"\n",
            "c.toml:2:1: unknown key `utc_ofset` in [calendar], did you mean `utc_offset`?",
        ),
        (
            "[ivr]\nreload_interval_ms = 5\n",
            "c.toml:2:22: reload_interval_ms (5) is below 100: use 0 to turn hot reload off",
        ),
        // broken TOML syntax
        (
            "[sip\nlisten = 1\n",
            "c.toml:1:5: invalid table header; expected `.`, `]`",
        ),
    ];
    for (text, expected) in cases {
        let err = Config::from_toml_str(text, "c.toml").unwrap_err();
        assert_eq!(&err.to_string(), expected, "for input {text:?}");
    }
}

#[test]
fn validate_after_overrides_names_the_key() {
    let mut config = Config::default();
    config.sip.min_expires = 7200;
    let err = config.validate().unwrap_err();
    assert_eq!(
        err.to_string(),
        "sip.min_expires: min_expires (7200) is greater than max_expires (3600)"
    );
}

#[test]
fn port_zero_for_both_listeners_is_not_a_collision() {
    // tests bind port 0 for SIP and HTTP; the OS picks two different ports
    let text = "[sip]\nlisten = \"127.0.0.1:0\"\n[http]\nlisten = \"127.0.0.1:0\"\n";
    assert!(Config::from_toml_str(text, "t.toml").is_ok());
}

#[test]
fn load_reports_an_unreadable_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("missing.toml");
    let err = Config::load(&path).unwrap_err().to_string();
    assert!(
        err.starts_with(&format!("{}: cannot read: ", path.display())),
        "{err}"
    );
}

#[test]
fn load_labels_errors_with_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hotline.toml");
    std::fs::write(&path, "[sip]\nrealm = \"\"\n").unwrap();
    let err = Config::load(&path).unwrap_err().to_string();
    assert_eq!(
        err,
        format!("{}:2:9: realm must not be empty", path.display())
    );
}

#[test]
fn port_range_from_the_command_line() {
    assert_eq!(
        "30000-30099".parse::<PortRange>().unwrap(),
        PortRange {
            lo: 30000,
            hi: 30099
        }
    );
    assert_eq!("30000-30099".parse::<PortRange>().unwrap().len(), 100);
    assert!("30000".parse::<PortRange>().is_err());
}

/// Characters that matter to TOML, so mutations reach deep into the parser.
const MUTATION_ALPHABET: &[u8] = b"[]{}=\"'.,#\n -_0123456789aezSIP:\\\x00\xff";

fn mutate(base: &str, edits: &[(usize, u8, u8)]) -> String {
    let mut bytes = base.as_bytes().to_vec();
    for &(pos, op, ch) in edits {
        let pos = pos % (bytes.len() + 1);
        let ch = MUTATION_ALPHABET[usize::from(ch) % MUTATION_ALPHABET.len()];
        match op % 3 {
            0 => bytes.insert(pos, ch),
            1 if pos < bytes.len() => {
                bytes.remove(pos);
            }
            _ if pos < bytes.len() => bytes[pos] = ch,
            _ => bytes.push(ch),
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    /// No input makes the loader panic, and every error it reports is
    /// one `file:` prefixed line per problem.
    #[test]
    fn mutated_example_never_panics(edits in proptest::collection::vec((any::<usize>(), any::<u8>(), any::<u8>()), 1..8)) {
        let text = mutate(EXAMPLE, &edits);
        if let Err(e) = Config::from_toml_str(&text, "m.toml") {
            prop_assert!(!e.problems.is_empty());
            for line in e.to_string().lines() {
                prop_assert!(line.starts_with("m.toml:"), "{line}");
            }
        }
    }

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,200}") {
        let _ = Config::from_toml_str(&text, "a.toml");
    }
}
