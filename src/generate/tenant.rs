//! A synthetic tenant's people and networks, and the sign-ins they make on a day. Every user and
//! day draws from its own seeded generator, so the same seed gives the same events in any order
//! and on any number of threads.

use chrono::{Datelike, NaiveDate, Weekday};
use rand::prelude::*;
use rand_chacha::ChaCha8Rng;

/// One sign-in, before it is rendered in any format.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub interactive: bool,
    /// `createdDateTime`, ns since the epoch.
    pub created: i64,
    /// The envelope `time` (processing time): `created` plus a lag of 50–222 s.
    pub time_generated: i64,
    pub id: String,
    pub correlation_id: String,
    pub upn: String,
    pub user_id: String,
    pub display_name: String,
    pub ip: String,
    /// `None` for the records Entra logs without an ASN.
    pub asn: Option<u32>,
    pub app: &'static App,
    pub result_type: &'static str,
    pub user_agent: &'static str,
    pub city: &'static str,
    pub country: &'static str,
    /// `clientAppUsed`: a browser for interactive sign-ins, desktop and mobile clients else;
    /// legacy protocols in `generate --patterns`.
    pub client_app: &'static str,
    /// `status.failureReason` and `status.additionalDetails` of a failure.
    pub failure: (&'static str, &'static str),
    /// `resultDescription`: empty but in `generate --patterns`.
    pub description: &'static str,
    /// `authenticationProtocol`: `none`, or `deviceCode` in `generate --patterns`.
    pub auth_protocol: &'static str,
}

#[derive(Debug, PartialEq)]
pub struct App {
    pub name: &'static str,
    pub id: &'static str,
}

pub const APPS: [App; 10] = [
    App {
        name: "Microsoft Teams",
        id: "1fec8e78-bce4-4aaf-ab1b-5451cc387264",
    },
    App {
        name: "Microsoft Outlook",
        id: "5d661950-3475-41cd-a2c3-d671a3162bc1",
    },
    App {
        name: "Office 365 SharePoint Online",
        id: "00000003-0000-0ff1-ce00-000000000000",
    },
    App {
        name: "Azure Portal",
        id: "c44b4083-3bb0-49c1-b47d-974e53cbdf3c",
    },
    App {
        name: "Microsoft Authentication Broker",
        id: "29d9ed98-a469-4536-ade2-f981bc1d605e",
    },
    App {
        name: "OneDrive SyncEngine",
        id: "ab9b8c07-8f02-4f72-87fa-80105867a763",
    },
    App {
        name: "Microsoft Intune Windows Agent",
        id: "fc0f3af4-6835-4174-b806-f7db311fd2f3",
    },
    App {
        name: "Azure DevOps",
        id: "499b84ac-1321-427f-aa17-267ca6975798",
    },
    App {
        name: "Windows Update for Business",
        id: "61ae9cd9-7bca-458c-affc-861e2f24ba3b",
    },
    App {
        name: "Azure AD Connect",
        id: "cb1056e2-e479-49de-ae31-7812af012ed8",
    },
];

/// A network a sign-in can come from.
#[derive(Debug, Clone, Copy)]
pub(super) struct Network {
    pub(super) asn: u32,
    pub(super) prefix: &'static str,
    pub(super) v6: bool,
    pub(super) city: &'static str,
    pub(super) country: &'static str,
}

const CORPORATE: Network = Network {
    asn: 8075,
    prefix: "20.190.",
    v6: false,
    city: "Redmond",
    country: "US",
};
const CORPORATE_VPN: Network = Network {
    asn: 3356,
    prefix: "4.14.",
    v6: false,
    city: "Seattle",
    country: "US",
};
const HOME_ISPS: [Network; 4] = [
    Network {
        asn: 7922,
        prefix: "73.12.",
        v6: false,
        city: "Philadelphia",
        country: "US",
    },
    Network {
        asn: 701,
        prefix: "2600:4041:",
        v6: true,
        city: "New York",
        country: "US",
    },
    Network {
        asn: 3320,
        prefix: "91.64.",
        v6: false,
        city: "Berlin",
        country: "DE",
    },
    Network {
        asn: 2856,
        prefix: "86.128.",
        v6: false,
        city: "London",
        country: "GB",
    },
];
const MOBILE: [Network; 2] = [
    Network {
        asn: 21928,
        prefix: "172.58.",
        v6: false,
        city: "Bellevue",
        country: "US",
    },
    Network {
        asn: 22394,
        prefix: "2600:1000:",
        v6: true,
        city: "Newark",
        country: "US",
    },
];
/// A European tenant's networks: other ASNs for every role, so that rules written for one
/// tenant's networks do not fit the other.
const EUROPE_CORPORATE: Network = Network {
    asn: 3209,
    prefix: "94.134.",
    v6: false,
    city: "Duesseldorf",
    country: "DE",
};
const EUROPE_VPN: Network = Network {
    asn: 53813,
    prefix: "165.225.",
    v6: false,
    city: "Frankfurt",
    country: "DE",
};
const EUROPE_HOME_ISPS: [Network; 4] = [
    Network {
        asn: 3215,
        prefix: "90.84.",
        v6: false,
        city: "Paris",
        country: "FR",
    },
    Network {
        asn: 3352,
        prefix: "2a02:9000:",
        v6: true,
        city: "Madrid",
        country: "ES",
    },
    Network {
        asn: 1136,
        prefix: "77.160.",
        v6: false,
        city: "Amsterdam",
        country: "NL",
    },
    Network {
        asn: 3303,
        prefix: "85.0.",
        v6: false,
        city: "Zurich",
        country: "CH",
    },
];
const EUROPE_MOBILE: [Network; 2] = [
    Network {
        asn: 25135,
        prefix: "2a01:4c8:",
        v6: true,
        city: "London",
        country: "GB",
    },
    Network {
        asn: 6805,
        prefix: "176.0.",
        v6: false,
        city: "Munich",
        country: "DE",
    },
];

/// Which networks a tenant's people use.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum NetworkMix {
    #[default]
    Us,
    Europe,
}

impl crate::choice::Choice for NetworkMix {
    const OFFERED: &'static [(Self, &'static str, &'static str)] = &[
        (
            NetworkMix::Us,
            "us",
            "A US tenant: Microsoft egress, a Level 3 VPN, US and European home ISPs, US carriers",
        ),
        (
            NetworkMix::Europe,
            "europe",
            "A European tenant: other egress, VPN, home ISPs and carriers throughout",
        ),
    ];
}

struct Palette {
    corporate: Network,
    vpn: Network,
    homes: &'static [Network],
    mobiles: &'static [Network],
}

impl NetworkMix {
    fn palette(self) -> Palette {
        match self {
            NetworkMix::Us => Palette {
                corporate: CORPORATE,
                vpn: CORPORATE_VPN,
                homes: &HOME_ISPS,
                mobiles: &MOBILE,
            },
            NetworkMix::Europe => Palette {
                corporate: EUROPE_CORPORATE,
                vpn: EUROPE_VPN,
                homes: &EUROPE_HOME_ISPS,
                mobiles: &EUROPE_MOBILE,
            },
        }
    }
}

/// Hosting providers that token replay comes from.
pub const HOSTING: [(u32, &str); 4] = [
    (14061, "DigitalOcean"),
    (16276, "OVH"),
    (24940, "Hetzner"),
    (20473, "Vultr"),
];

const AGENTS: [&str; 3] = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
];
const FIRST: [&str; 12] = [
    "Ada", "Brian", "Chloe", "Dmitri", "Elena", "Farid", "Grace", "Hiro", "Ines", "Jonas", "Kemi",
    "Lars",
];
const LAST: [&str; 10] = [
    "Smith", "Okafor", "Novak", "Garcia", "Tanaka", "Muller", "Haddad", "Kowalski", "Silva", "Berg",
];
const INTERACTIVE_FAILURES: [&str; 4] = ["50126", "50074", "50140", "53003"];
const NON_INTERACTIVE_FAILURES: [&str; 2] = ["70044", "50173"];

/// A person of the tenant.
#[derive(Debug, Clone)]
pub struct User {
    pub index: usize,
    pub upn: String,
    pub user_id: String,
    pub display_name: String,
    pub(super) home: Network,
    mobile: Network,
    /// Volume multiplier: 1 for most, 20–100 for the heavy tail.
    pub weight: u32,
    agent: &'static str,
}

/// The tenant's shape; the same spec and seed always give the same tenant.
#[derive(Debug, Clone, Copy)]
pub struct TenantSpec {
    pub users: usize,
    pub days: u32,
    pub seed: u64,
    pub start: NaiveDate,
    /// Heavy accounts (20–100x the volume) per thousand users.
    pub heavy_per_mille: u32,
    pub networks: NetworkMix,
    /// Add the patterns Sentinel's sign-in hunts look for (`generate --patterns`).
    pub patterns: bool,
}

impl TenantSpec {
    pub fn new(users: usize, days: u32, seed: u64) -> TenantSpec {
        TenantSpec {
            users,
            days,
            seed,
            start: NaiveDate::from_ymd_opt(2026, 3, 2).expect("valid date"),
            heavy_per_mille: 10,
            networks: NetworkMix::Us,
            patterns: false,
        }
    }

    pub fn dates(&self) -> impl Iterator<Item = NaiveDate> + '_ {
        (0..self.days).map(|d| self.start + chrono::Days::new(u64::from(d)))
    }

    pub(super) fn rng(&self, parts: &[u64]) -> ChaCha8Rng {
        let mut seed = self.seed ^ 0x9e37_79b9_7f4a_7c15;
        for &part in parts {
            seed = (seed ^ part).wrapping_mul(0x0100_0000_01b3).rotate_left(29);
        }
        ChaCha8Rng::seed_from_u64(seed)
    }

    pub fn users(&self) -> Vec<User> {
        (0..self.users).map(|index| self.user(index)).collect()
    }

    fn user(&self, index: usize) -> User {
        let mut rng = self.rng(&[1, index as u64]);
        let first = FIRST[rng.random_range(0..FIRST.len())];
        let last = LAST[rng.random_range(0..LAST.len())];
        // Mixed case as Entra really stores it; a few guests keep a UPN without '@'.
        let upn = match rng.random_range(0..100) {
            0 => format!(
                "{}-{}{}-contoso.onmicrosoft.com",
                first.to_lowercase(),
                last.to_lowercase(),
                index
            ),
            1..=30 => format!("{first}.{last}{index}@Contoso.com"),
            _ => format!(
                "{}.{}{index}@contoso.com",
                first.to_lowercase(),
                last.to_lowercase()
            ),
        };
        let weight = if rng.random_range(0..1000) < self.heavy_per_mille {
            rng.random_range(20..=100)
        } else {
            1
        };
        let palette = self.networks.palette();
        User {
            index,
            upn,
            user_id: uuid(&mut rng),
            display_name: format!("{first} {last}"),
            home: palette.homes[rng.random_range(0..palette.homes.len())],
            mobile: palette.mobiles[rng.random_range(0..palette.mobiles.len())],
            weight,
            agent: AGENTS[rng.random_range(0..AGENTS.len())],
        }
    }

    /// Users that get an injected token-replay attack on `date`.
    fn attacked(&self, user: &User, date: NaiveDate) -> bool {
        let mut rng = self.rng(&[3, user.index as u64, date.num_days_from_ce() as u64]);
        // About one attack per 60 user-days of normal users: a handful in a small sample.
        user.weight == 1 && rng.random_range(0..60) == 0
    }

    /// All sign-ins of `user` on `date`, with injected attacks reported separately.
    pub fn day(&self, user: &User, date: NaiveDate) -> Day {
        let mut rng = self.rng(&[2, user.index as u64, date.num_days_from_ce() as u64]);
        let midnight = midnight(date);
        let workday = !matches!(date.weekday(), Weekday::Sat | Weekday::Sun);
        let palette = self.networks.palette();
        let mut events = Vec::new();
        let interactive_count = if workday {
            rng.random_range(1..=5)
        } else {
            rng.random_range(0..=1)
        } * user.weight.min(20);
        let mut sessions = Vec::new();
        for _ in 0..interactive_count {
            let at = midnight + rng.random_range(7 * HOUR..19 * HOUR);
            let network = match rng.random_range(0..10) {
                0..=4 => palette.corporate,
                5..=7 => user.home,
                8 => palette.vpn,
                _ => user.mobile,
            };
            let event = self.event(&mut rng, user, true, at, network);
            sessions.push((at, network));
            events.push(event);
        }
        let refreshes = rng.random_range(15..=40) * user.weight.min(50);
        for _ in 0..refreshes {
            let (at, network) = match sessions.as_slice() {
                [] => (midnight + rng.random_range(0..24 * HOUR), user.home),
                list => {
                    let (start, network) = list[rng.random_range(0..list.len())];
                    // Token refresh follows a session by minutes to hours; benign network
                    // changes (mobile background refresh, VPN toggle) happen within minutes.
                    let network = match rng.random_range(0..20) {
                        0 => user.mobile,
                        1 => palette.vpn,
                        _ => network,
                    };
                    (start + rng.random_range(0..4 * HOUR), network)
                }
            };
            events.push(self.event(&mut rng, user, false, at, network));
        }
        let mut attacks = Vec::new();
        if self.attacked(user, date)
            && let Some(victim) = events
                .iter()
                .find(|e| e.interactive && e.result_type == "0")
                .cloned()
        {
            let (asn, _) = HOSTING[rng.random_range(0..HOSTING.len())];
            let mut attack = self.event(&mut rng, user, false, victim.created, user.home);
            let delay = rng.random_range(30 * SECOND..9 * MINUTE);
            attack.created = victim.created + delay;
            attack.time_generated = victim.time_generated + delay;
            attack.asn = Some(asn);
            attack.ip = format!(
                "{}.{}.{}.{}",
                rng.random_range(100..200),
                rng.random_range(0..255),
                rng.random_range(0..255),
                rng.random_range(1..255)
            );
            attack.result_type = "0";
            attack.failure = ("", "");
            attack.city = "Amsterdam";
            attack.country = "NL";
            attacks.push((victim, attack.clone()));
            events.push(attack);
        }
        // About 3% of non-interactive records are delivered twice, the copy processed later.
        let mut redelivered = Vec::new();
        for event in events.iter().filter(|e| !e.interactive) {
            if rng.random_range(0..33) == 0 {
                let mut copy = event.clone();
                copy.time_generated += rng.random_range(MINUTE..3 * HOUR);
                redelivered.push(copy);
            }
        }
        events.extend(redelivered);
        Day { events, attacks }
    }

    pub(super) fn event(
        &self,
        rng: &mut ChaCha8Rng,
        user: &User,
        interactive: bool,
        created: i64,
        network: Network,
    ) -> Event {
        let app = &APPS[rng.random_range(0..APPS.len())];
        let failed = rng.random_range(0..100) < 5;
        let result_type = match (failed, interactive) {
            (false, _) => "0",
            (true, true) => INTERACTIVE_FAILURES[rng.random_range(0..INTERACTIVE_FAILURES.len())],
            (true, false) => {
                NON_INTERACTIVE_FAILURES[rng.random_range(0..NON_INTERACTIVE_FAILURES.len())]
            }
        };
        let ip = if network.v6 {
            format!(
                "{}{:x}:{:x}:{:x}",
                network.prefix,
                rng.random_range(0..0xffff),
                rng.random_range(0..0xffff),
                user.index
            )
        } else {
            format!(
                "{}{}.{}",
                network.prefix,
                user.index % 250,
                rng.random_range(1..4)
            )
        };
        // 100 ns ticks, as Entra records them.
        let created = created - created.rem_euclid(SECOND) + rng.random_range(0..10_000_000) * 100;
        Event {
            interactive,
            created,
            time_generated: created + rng.random_range(500_000_000..2_220_000_000) * 100,
            id: uuid(rng),
            correlation_id: uuid(rng),
            upn: user.upn.clone(),
            user_id: user.user_id.clone(),
            display_name: user.display_name.clone(),
            ip,
            asn: (rng.random_range(0..100) != 0).then_some(network.asn),
            app,
            result_type,
            user_agent: user.agent,
            city: network.city,
            country: network.country,
            client_app: if interactive {
                "Browser"
            } else {
                "Mobile Apps and Desktop clients"
            },
            failure: if result_type == "0" {
                ("", "")
            } else {
                (
                    "Invalid username or password or Invalid on-premise username or password.",
                    "",
                )
            },
            auth_protocol: "none",
            description: "",
        }
    }
}

/// The start of `date` (UTC), ns since the epoch.
pub(super) fn midnight(date: NaiveDate) -> i64 {
    date.and_hms_opt(0, 0, 0)
        .expect("valid")
        .and_utc()
        .timestamp_nanos_opt()
        .expect("in range")
}

pub const SECOND: i64 = 1_000_000_000;
pub const MINUTE: i64 = 60 * SECOND;
pub const HOUR: i64 = 60 * MINUTE;

/// A user's day: every event (attacks included) and the injected (victim, attack) pairs.
#[derive(Debug)]
pub struct Day {
    pub events: Vec<Event>,
    pub attacks: Vec<(Event, Event)>,
}

fn uuid(rng: &mut ChaCha8Rng) -> String {
    let v: u128 = rng.random();
    let h = format!("{v:032x}");
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}
