//! What Sentinel's sign-in hunts look for, added to a tenant by `generate --patterns` so that
//! those hunts (and users' own, in KQL) have something to find: each day, a password spray,
//! a brute force that ends in a success, MFA prompts the user denies, legacy-protocol
//! sign-ins, attempts on a disabled account, smart lockouts, a success from a country the
//! user never signed in from, a device-code sign-in, and AzureHound's and PowerShell's
//! sign-ins. Each pattern draws from its own seeded generator, apart from the tenant's
//! ordinary sign-ins, which stay exactly as they are without the flag.

use chrono::{Datelike, NaiveDate};
use rand::prelude::*;
use rand_chacha::ChaCha8Rng;

use super::tenant::{App, Event, HOSTING, MINUTE, Network, SECOND, TenantSpec, User, midnight};

const INVALID_PASSWORD: (&str, &str) = (
    "Invalid username or password or Invalid on-premise username or password.",
    "",
);

static EXCHANGE: App = App {
    name: "Office 365 Exchange Online",
    id: "00000002-0000-0ff1-ce00-000000000000",
};

static POWERSHELL: App = App {
    name: "Azure Active Directory PowerShell",
    id: "1b730954-1685-4b74-9bfd-dac224a7b894",
};

static AZURE_CLI: App = App {
    name: "Microsoft Azure CLI",
    id: "04b07795-8ddb-461a-bbee-02f9e1bf7b46",
};

/// An attacker's network: a hosting provider, abroad.
const ABROAD: Network = Network {
    asn: 14061,
    prefix: "167.99.",
    v6: false,
    city: "Moscow",
    country: "RU",
};

/// The pattern events of `date`, over the tenant's `users`.
pub fn day(spec: &TenantSpec, users: &[User], date: NaiveDate) -> Vec<Event> {
    let ordinary: Vec<&User> = users.iter().filter(|u| u.weight == 1).collect();
    if ordinary.is_empty() {
        return Vec::new();
    }
    let day = date.num_days_from_ce() as u64;
    let midnight = midnight(date);
    let mut events = Vec::new();
    let patterns: [Pattern; 10] = [
        spray,
        brute_force,
        mfa_denied,
        legacy_protocol,
        disabled_account,
        smart_lockout,
        new_country,
        device_code,
        azurehound,
        powershell,
    ];
    for (index, pattern) in patterns.into_iter().enumerate() {
        let mut rng = spec.rng(&[5, index as u64, day]);
        let at = midnight + rng.random_range(8 * HOUR..17 * HOUR);
        let user = ordinary[rng.random_range(0..ordinary.len())];
        let attacker = attacker_network(&mut rng);
        let context = Context {
            spec,
            users: &ordinary,
            user,
            at,
            attacker,
        };
        events.extend(pattern(&context, &mut rng));
    }
    events
}

const HOUR: i64 = 60 * MINUTE;

type Pattern = fn(&Context<'_>, &mut ChaCha8Rng) -> Vec<Event>;

struct Context<'a> {
    spec: &'a TenantSpec,
    users: &'a [&'a User],
    /// The pattern's victim.
    user: &'a User,
    at: i64,
    attacker: Network,
}

impl Context<'_> {
    /// A sign-in of `user` at `at` plus `offset`, interactive, from the attacker's network.
    fn sign_in(
        &self,
        rng: &mut ChaCha8Rng,
        user: &User,
        offset: i64,
        result: &'static str,
    ) -> Event {
        let mut event = self
            .spec
            .event(rng, user, true, self.at + offset, self.attacker);
        event.asn = Some(self.attacker.asn);
        event.result_type = result;
        event.failure = if result == "0" {
            ("", "")
        } else {
            INVALID_PASSWORD
        };
        event
    }
}

fn attacker_network(rng: &mut ChaCha8Rng) -> Network {
    let (asn, _) = HOSTING[rng.random_range(0..HOSTING.len())];
    Network { asn, ..ABROAD }
}

/// The spray's one address: in the attackers' range, apart from every address
/// [`Context::sign_in`] draws there (whose last byte is 1 to 3).
const SPRAY_IP: &str = "167.99.10.10";

/// One address, many users, one wrong password each, within twenty minutes.
fn spray(context: &Context<'_>, rng: &mut ChaCha8Rng) -> Vec<Event> {
    let mut events = Vec::new();
    for (n, user) in context.users.iter().take(40).enumerate() {
        let mut event = context.sign_in(rng, user, n as i64 * 30 * SECOND, "50126");
        event.app = &EXCHANGE;
        event.ip = SPRAY_IP.to_string();
        events.push(event);
    }
    events
}

/// 120 wrong passwords for one user from one address in twenty minutes, then the right one.
fn brute_force(context: &Context<'_>, rng: &mut ChaCha8Rng) -> Vec<Event> {
    let mut events: Vec<Event> = (0..120)
        .map(|n| context.sign_in(rng, context.user, n * 10 * SECOND, "50126"))
        .collect();
    events.push(context.sign_in(rng, context.user, 21 * MINUTE, "0"));
    let ip = events[0].ip.clone();
    for event in &mut events {
        event.ip.clone_from(&ip);
    }
    events
}

/// MFA prompts the user declines, then one approved by mistake.
fn mfa_denied(context: &Context<'_>, rng: &mut ChaCha8Rng) -> Vec<Event> {
    let mut events: Vec<Event> = (0..5)
        .map(|n| {
            let mut event = context.sign_in(rng, context.user, n * MINUTE, "500121");
            event.failure = (
                "Authentication failed during strong authentication request.",
                "MFA denied; user declined the authentication",
            );
            event
        })
        .collect();
    events.push(context.sign_in(rng, context.user, 6 * MINUTE, "0"));
    events
}

/// Sign-ins over protocols that cannot do MFA, one failed and one not.
fn legacy_protocol(context: &Context<'_>, rng: &mut ChaCha8Rng) -> Vec<Event> {
    ["IMAP4", "Exchange ActiveSync", "Authenticated SMTP"]
        .into_iter()
        .enumerate()
        .map(|(n, client)| {
            let result = if n == 0 { "50126" } else { "0" };
            let mut event = context.sign_in(rng, context.user, n as i64 * MINUTE, result);
            event.client_app = client;
            event.user_agent = "BAV2ROPC";
            event.app = &EXCHANGE;
            event
        })
        .collect()
}

/// A disabled account tried from several addresses against several apps.
fn disabled_account(context: &Context<'_>, rng: &mut ChaCha8Rng) -> Vec<Event> {
    (0..12)
        .map(|n| {
            let mut event = context.sign_in(rng, context.user, n * 3 * MINUTE, "50057");
            event.failure = ("User account is disabled.", "");
            event.description =
                "User account is disabled. The account has been disabled by an administrator.";
            event.app = &super::tenant::APPS[n as usize % 4];
            event.ip = format!("{}{}.{}", ABROAD.prefix, 20 + n % 3, 1);
            event
        })
        .collect()
}

/// An account locked by Entra's smart lockout after failures.
fn smart_lockout(context: &Context<'_>, rng: &mut ChaCha8Rng) -> Vec<Event> {
    (0..6)
        .map(|n| {
            let result = if n < 3 { "50126" } else { "50053" };
            let mut event = context.sign_in(rng, context.user, n * MINUTE, result);
            if result == "50053" {
                event.failure = (
                    "Account is locked because user tried to sign in too many times with an \
                     incorrect user ID or password.",
                    "",
                );
            }
            event
        })
        .collect()
}

/// A success from a country the user never signed in from.
fn new_country(context: &Context<'_>, rng: &mut ChaCha8Rng) -> Vec<Event> {
    vec![context.sign_in(rng, context.user, 0, "0")]
}

/// A device-code sign-in (the phishing flow), from a network the user never used.
fn device_code(context: &Context<'_>, rng: &mut ChaCha8Rng) -> Vec<Event> {
    let mut event = context.sign_in(rng, context.user, 0, "0");
    event.auth_protocol = "deviceCode";
    event.app = &AZURE_CLI;
    vec![event]
}

/// AzureHound collecting the directory with a user's token.
fn azurehound(context: &Context<'_>, rng: &mut ChaCha8Rng) -> Vec<Event> {
    let mut event = context.sign_in(rng, context.user, 0, "0");
    event.user_agent = "azurehound/v2.1.7";
    event.interactive = false;
    vec![event]
}

/// Azure AD PowerShell, which ordinary users do not run.
fn powershell(context: &Context<'_>, rng: &mut ChaCha8Rng) -> Vec<Event> {
    let mut event = context.sign_in(rng, context.user, 0, "0");
    event.app = &POWERSHELL;
    vec![event]
}
