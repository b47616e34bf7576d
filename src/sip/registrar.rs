//! The registrar (RFC 3261 §10): bindings of operator logins to the
//! Contact addresses of their softphones.

use super::Transport;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::net::SocketAddr;

/// One registered contact of a login. Persisted by the store so that a
/// restart does not log every operator out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Binding {
    pub login: String,
    /// The Contact URI exactly as the phone sent it (without `<>` and params).
    pub contact: String,
    /// Absolute expiry, milliseconds since the Unix epoch.
    pub expires_at_ms: i64,
    pub call_id: String,
    pub cseq: u32,
    /// Where the REGISTER came from (the flow to reuse when `nat`).
    pub source: SocketAddr,
    pub transport: Transport,
    /// The REGISTER showed NAT (source differs from Via sent-by) or the agent
    /// has `nat = true`: requests go to `source` over the same flow.
    pub nat: bool,
    /// Contact `q` parameter (0.0–1.0) if given.
    pub q: Option<f32>,
    pub user_agent: Option<String>,
}

impl Binding {
    /// Seconds left, rounded up, for the `expires=` parameter of the 200's Contact list.
    pub fn expires_in_s(&self, now_ms: i64) -> u32 {
        let left_ms = self.expires_at_ms.saturating_sub(now_ms).max(0);
        u32::try_from(left_ms.saturating_add(999) / 1000).unwrap_or(u32::MAX)
    }

    fn is_live(&self, now_ms: i64) -> bool {
        self.expires_at_ms > now_ms
    }
}

/// Limits of the registrar (ARCHITECTURE §3: Expires min 60, max 3600).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RegistrarConfig {
    /// Below this a non-zero expiry is answered 423 with Min-Expires.
    pub min_expires: u32,
    /// Longer requests are shortened to this.
    pub max_expires: u32,
    /// Used when neither the Contact nor the request gives an expiry.
    pub default_expires: u32,
    /// Live bindings one login may hold.
    pub max_bindings_per_login: usize,
}

impl Default for RegistrarConfig {
    fn default() -> Self {
        RegistrarConfig {
            min_expires: 60,
            max_expires: 3600,
            default_expires: 3600,
            max_bindings_per_login: 10,
        }
    }
}

/// The Contact header(s) of a REGISTER.
#[derive(Debug, Clone, PartialEq)]
pub enum ContactsInput {
    /// `Contact: *` (only valid with `Expires: 0`): remove every binding.
    Star,
    List(Vec<ContactInput>),
    /// No Contact: a query, answered 200 with the current bindings.
    None,
}

/// One Contact of a REGISTER.
#[derive(Debug, Clone, PartialEq)]
pub struct ContactInput {
    /// The URI as sent, without `<>` and header parameters.
    pub uri: String,
    /// The Contact's `expires` parameter.
    pub expires_param: Option<u32>,
    /// The Contact's `q` parameter.
    pub q: Option<f32>,
}

/// A REGISTER that passed authentication, reduced to what the registrar needs.
#[derive(Debug, Clone)]
pub struct RegisterRequest {
    pub login: String,
    pub contacts: ContactsInput,
    pub expires_header: Option<u32>,
    pub call_id: String,
    pub cseq: u32,
    pub source: SocketAddr,
    pub transport: Transport,
    pub nat: bool,
    pub user_agent: Option<String>,
    /// Wall-clock time, Unix milliseconds (bindings outlive restarts).
    pub now_ms: i64,
}

/// What to answer a REGISTER with, and what the store must persist.
#[derive(Debug, Clone, PartialEq)]
pub enum RegisterOutcome {
    /// 200: `current` are all live bindings of the login after the update
    /// (for the Contact list with `expires=`), `changes` what the store must persist.
    Ok {
        current: Vec<Binding>,
        changes: Vec<BindingChange>,
    },
    /// 423 with `Min-Expires`. An expiry of 0 is never too brief.
    IntervalTooBrief { min_expires: u32 },
    /// 400, e.g. `*` together with other contacts or with Expires ≠ 0.
    BadRequest(&'static str),
    /// The same Call-ID with a CSeq not higher than stored (§10.3 step 7) → 500.
    OutOfOrder,
    /// The update would leave more than `max_bindings_per_login` live
    /// bindings → 403. Not 503: retrying cannot help until a binding
    /// expires, and a 503 makes phones retry or fail over at once.
    TooManyBindings,
}

impl RegisterOutcome {
    /// Status code and reason phrase of the response.
    pub fn status(&self) -> (u16, &'static str) {
        match self {
            RegisterOutcome::Ok { .. } => (200, "OK"),
            RegisterOutcome::IntervalTooBrief { .. } => (423, "Interval Too Brief"),
            RegisterOutcome::BadRequest(_) => (400, "Bad Request"),
            RegisterOutcome::OutOfOrder => (500, "Server Internal Error"),
            RegisterOutcome::TooManyBindings => (403, "Too Many Bindings"),
        }
    }
}

/// A change the store must persist.
#[derive(Debug, Clone, PartialEq)]
pub enum BindingChange {
    /// Insert or replace the binding of (`login`, `contact`).
    Upsert(Binding),
    Remove {
        login: String,
        contact: String,
    },
}

/// The binding table (RFC 3261 §10.3), sans-IO: the caller passes wall-clock
/// time and persists the returned changes.
///
/// Contacts are matched by a simplified RFC 3261 §19.1.4 comparison (see
/// [`contact_match_key`]). Expiry scans all bindings (O(n)); n is the number
/// of agents times their devices, a few thousand at most.
pub struct Registrar {
    config: RegistrarConfig,
    by_login: HashMap<String, Vec<Binding>>,
}

/// A contact URI reduced for comparison (simplified RFC 3261 §19.1.4):
/// `<>` stripped, scheme and host lower-cased, user part kept case-sensitive,
/// URI parameters lower-cased and sorted so their order does not matter,
/// headers kept as is. Not done: %-unescaping, and ignoring parameters that
/// appear in only one URI — a phone re-registers with the URI it used before,
/// so exact-but-case-insensitive matching is what matters in practice.
pub fn contact_match_key(uri: &str) -> String {
    let uri = uri.trim();
    let uri = uri
        .strip_prefix('<')
        .and_then(|u| u.strip_suffix('>'))
        .unwrap_or(uri);
    let (scheme, rest) = uri.split_once(':').unwrap_or(("", uri));
    let (rest, headers) = match rest.split_once('?') {
        Some((rest, headers)) => (rest, Some(headers)),
        None => (rest, None),
    };
    let (address, params) = match rest.split_once(';') {
        Some((address, params)) => (address, Some(params)),
        None => (rest, None),
    };
    let (user, host) = match address.rsplit_once('@') {
        Some((user, host)) => (Some(user), host),
        None => (None, address),
    };
    let mut key = scheme.to_ascii_lowercase();
    key.push(':');
    if let Some(user) = user {
        key.push_str(user);
        key.push('@');
    }
    key.push_str(&host.to_ascii_lowercase());
    if let Some(params) = params {
        let mut params: Vec<String> = params
            .split(';')
            .filter(|p| !p.is_empty())
            .map(|p| p.to_ascii_lowercase())
            .collect();
        params.sort();
        for param in params {
            key.push(';');
            key.push_str(&param);
        }
    }
    if let Some(headers) = headers {
        key.push('?');
        key.push_str(headers);
    }
    key
}

/// Highest q first (a missing q counts as 1.0), then the most recently refreshed.
fn by_preference(a: &Binding, b: &Binding) -> std::cmp::Ordering {
    let qa = a.q.unwrap_or(1.0);
    let qb = b.q.unwrap_or(1.0);
    qb.total_cmp(&qa)
        .then(b.expires_at_ms.cmp(&a.expires_at_ms))
}

impl Registrar {
    pub fn new(config: RegistrarConfig) -> Self {
        Registrar {
            config,
            by_login: HashMap::new(),
        }
    }

    /// Loads bindings from the store at start, skipping expired ones.
    pub fn restore(&mut self, bindings: Vec<Binding>, now_ms: i64) {
        for binding in bindings.into_iter().filter(|b| b.is_live(now_ms)) {
            let list = self.by_login.entry(binding.login.clone()).or_default();
            let key = contact_match_key(&binding.contact);
            list.retain(|b| contact_match_key(&b.contact) != key);
            list.push(binding);
        }
    }

    /// Applies a REGISTER (§10.3 steps 6–8). The expiry of each contact is
    /// its `expires` parameter, else the Expires header, else the default;
    /// capped at `max_expires`; 0 removes. The request is all-or-nothing:
    /// nothing changes unless the outcome is `Ok`.
    pub fn register(&mut self, req: RegisterRequest) -> RegisterOutcome {
        let now = req.now_ms;
        let contacts = match &req.contacts {
            ContactsInput::None => return self.ok(&req.login, now, Vec::new()),
            ContactsInput::List(list) if list.is_empty() => {
                return self.ok(&req.login, now, Vec::new());
            }
            ContactsInput::Star => return self.unregister_all(&req),
            ContactsInput::List(list) => list,
        };

        // Validate everything before changing anything.
        let mut wanted: Vec<(String, &ContactInput, u32)> = Vec::with_capacity(contacts.len());
        for contact in contacts {
            if contact.uri.trim() == "*" {
                return RegisterOutcome::BadRequest("\"*\" must be the only Contact");
            }
            if contact.uri.trim().is_empty() {
                return RegisterOutcome::BadRequest("empty Contact URI");
            }
            if contact.q.is_some_and(|q| !(0.0..=1.0).contains(&q)) {
                return RegisterOutcome::BadRequest("Contact q must be between 0 and 1");
            }
            let expires = contact
                .expires_param
                .or(req.expires_header)
                .unwrap_or(self.config.default_expires);
            if expires != 0 && expires < self.config.min_expires {
                return RegisterOutcome::IntervalTooBrief {
                    min_expires: self.config.min_expires,
                };
            }
            let key = contact_match_key(&contact.uri);
            // The same contact twice in one request: the last one wins.
            wanted.retain(|(k, _, _)| *k != key);
            wanted.push((key, contact, expires.min(self.config.max_expires)));
        }

        let existing: &[Binding] = self
            .by_login
            .get(&req.login)
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        let existing_keys: Vec<String> = existing
            .iter()
            .map(|b| contact_match_key(&b.contact))
            .collect();
        let mut live_after = existing.iter().filter(|b| b.is_live(now)).count();
        for (key, _, expires) in &wanted {
            let current = existing
                .iter()
                .zip(&existing_keys)
                .find(|(_, k)| *k == key)
                .map(|(b, _)| b);
            let current_live = current.filter(|b| b.is_live(now));
            if let Some(binding) = current_live {
                if binding.call_id == req.call_id && req.cseq <= binding.cseq {
                    return RegisterOutcome::OutOfOrder;
                }
            }
            match (current_live.is_some(), *expires == 0) {
                (true, true) => live_after = live_after.saturating_sub(1),
                (false, false) => live_after += 1,
                _ => {}
            }
        }
        let live_before = existing.iter().filter(|b| b.is_live(now)).count();
        if live_after > self.config.max_bindings_per_login && live_after > live_before {
            return RegisterOutcome::TooManyBindings;
        }

        let mut changes = Vec::with_capacity(wanted.len());
        let list = self.by_login.entry(req.login.clone()).or_default();
        for (key, contact, expires) in wanted {
            let position = list
                .iter()
                .position(|b| contact_match_key(&b.contact) == key);
            if expires == 0 {
                if let Some(position) = position {
                    let removed = list.remove(position);
                    changes.push(BindingChange::Remove {
                        login: removed.login,
                        contact: removed.contact,
                    });
                }
                continue;
            }
            let binding = Binding {
                login: req.login.clone(),
                contact: contact.uri.trim().to_string(),
                expires_at_ms: now.saturating_add(i64::from(expires).saturating_mul(1000)),
                call_id: req.call_id.clone(),
                cseq: req.cseq,
                source: req.source,
                transport: req.transport,
                nat: req.nat,
                q: contact.q,
                user_agent: req.user_agent.clone(),
            };
            if let Some(position) = position {
                let old = std::mem::replace(&mut list[position], binding.clone());
                if old.contact != binding.contact {
                    // Same contact spelled differently: the store keys on the spelling.
                    changes.push(BindingChange::Remove {
                        login: old.login,
                        contact: old.contact,
                    });
                }
            } else {
                list.push(binding.clone());
            }
            changes.push(BindingChange::Upsert(binding));
        }
        if list.is_empty() {
            self.by_login.remove(&req.login);
        }
        self.ok(&req.login, now, changes)
    }

    /// `Contact: *` with `Expires: 0` (§10.3 step 6).
    fn unregister_all(&mut self, req: &RegisterRequest) -> RegisterOutcome {
        if req.expires_header != Some(0) {
            return RegisterOutcome::BadRequest("\"Contact: *\" requires \"Expires: 0\"");
        }
        let existing = self
            .by_login
            .get(&req.login)
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        if existing
            .iter()
            .any(|b| b.is_live(req.now_ms) && b.call_id == req.call_id && req.cseq <= b.cseq)
        {
            return RegisterOutcome::OutOfOrder;
        }
        let changes = self.remove_login(&req.login);
        RegisterOutcome::Ok {
            current: Vec::new(),
            changes,
        }
    }

    fn ok(&self, login: &str, now_ms: i64, changes: Vec<BindingChange>) -> RegisterOutcome {
        let current = self.lookup(login, now_ms).into_iter().cloned().collect();
        RegisterOutcome::Ok { current, changes }
    }

    /// Live bindings of `login`, highest q first (a missing q counts as
    /// 1.0), then the most recently refreshed.
    pub fn lookup(&self, login: &str, now_ms: i64) -> Vec<&Binding> {
        let mut live: Vec<&Binding> = self
            .by_login
            .get(login)
            .map(|list| list.iter().filter(|b| b.is_live(now_ms)).collect())
            .unwrap_or_default();
        live.sort_by(|a, b| by_preference(a, b));
        live
    }

    /// Removes every binding of a login (the agent was deleted).
    pub fn remove_login(&mut self, login: &str) -> Vec<BindingChange> {
        self.by_login
            .remove(login)
            .unwrap_or_default()
            .into_iter()
            .map(|b| BindingChange::Remove {
                login: b.login,
                contact: b.contact,
            })
            .collect()
    }

    /// Removes and returns the bindings that expired by `now_ms`, earliest
    /// first, so the caller can delete them from the store and log them.
    pub fn expire(&mut self, now_ms: i64) -> Vec<Binding> {
        let mut expired = Vec::new();
        self.by_login.retain(|_, list| {
            let (dead, live): (Vec<Binding>, Vec<Binding>) = std::mem::take(list)
                .into_iter()
                .partition(|b| !b.is_live(now_ms));
            expired.extend(dead);
            *list = live;
            !list.is_empty()
        });
        expired.sort_by_key(|b| b.expires_at_ms);
        expired
    }

    /// When the next binding expires (Unix ms), to arm the caller's timer.
    pub fn next_expiry_ms(&self) -> Option<i64> {
        self.by_login
            .values()
            .flatten()
            .map(|b| b.expires_at_ms)
            .min()
    }

    /// Logins with at least one binding (call `expire` first to drop the expired ones).
    pub fn registered_logins(&self) -> impl Iterator<Item = &str> {
        self.by_login.keys().map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: i64 = 1_700_000_000_000;

    fn contact(uri: &str) -> ContactInput {
        ContactInput {
            uri: uri.to_string(),
            expires_param: None,
            q: None,
        }
    }

    fn request(
        login: &str,
        contacts: ContactsInput,
        expires: Option<u32>,
        cseq: u32,
        now_ms: i64,
    ) -> RegisterRequest {
        RegisterRequest {
            login: login.to_string(),
            contacts,
            expires_header: expires,
            call_id: "call-1@phone".to_string(),
            cseq,
            source: "192.0.2.10:5060".parse().unwrap(),
            transport: Transport::Udp,
            nat: false,
            user_agent: Some("Zoiper".to_string()),
            now_ms,
        }
    }

    fn list(contacts: &[ContactInput]) -> ContactsInput {
        ContactsInput::List(contacts.to_vec())
    }

    fn ok(outcome: RegisterOutcome) -> (Vec<Binding>, Vec<BindingChange>) {
        match outcome {
            RegisterOutcome::Ok { current, changes } => (current, changes),
            other => panic!("expected Ok, got {other:?}"),
        }
    }

    fn contacts_of(bindings: &[Binding]) -> Vec<&str> {
        bindings.iter().map(|b| b.contact.as_str()).collect()
    }

    #[test]
    fn add_then_refresh_keeps_one_binding() {
        let mut registrar = Registrar::new(RegistrarConfig::default());
        let (current, changes) = ok(registrar.register(request(
            "anna",
            list(&[contact("sip:anna@10.0.0.5:5060")]),
            Some(600),
            1,
            T0,
        )));
        assert_eq!(contacts_of(&current), ["sip:anna@10.0.0.5:5060"]);
        assert_eq!(current[0].expires_at_ms, T0 + 600_000);
        assert_eq!(current[0].expires_in_s(T0), 600);
        assert!(
            matches!(&changes[..], [BindingChange::Upsert(b)] if b.cseq == 1 && b.user_agent.as_deref() == Some("Zoiper"))
        );

        // Refresh 5 minutes later, host in another case: still one binding, new expiry.
        let (current, _) = ok(registrar.register(request(
            "anna",
            list(&[contact("SIP:anna@10.0.0.5:5060")]),
            Some(600),
            2,
            T0 + 300_000,
        )));
        assert_eq!(current.len(), 1);
        assert_eq!(current[0].expires_at_ms, T0 + 900_000);
        assert_eq!(registrar.lookup("anna", T0 + 300_000).len(), 1);
        assert_eq!(registrar.registered_logins().collect::<Vec<_>>(), ["anna"]);
    }

    #[test]
    fn query_without_contact_lists_current_bindings() {
        let mut registrar = Registrar::new(RegistrarConfig::default());
        ok(registrar.register(request("anna", list(&[contact("sip:a@h")]), None, 1, T0)));
        let (current, changes) =
            ok(registrar.register(request("anna", ContactsInput::None, None, 2, T0 + 1000)));
        assert_eq!(contacts_of(&current), ["sip:a@h"]);
        assert!(changes.is_empty());
        let (current, _) =
            ok(registrar.register(request("nobody", ContactsInput::None, None, 1, T0)));
        assert!(current.is_empty());
    }

    #[test]
    fn expiry_comes_from_param_then_header_then_default_and_is_capped() {
        let mut registrar = Registrar::new(RegistrarConfig::default());
        let mut with_param = contact("sip:a@phone1");
        with_param.expires_param = Some(120);
        let (current, _) = ok(registrar.register(request(
            "anna",
            list(&[with_param, contact("sip:a@phone2")]),
            Some(300),
            1,
            T0,
        )));
        let expiry = |uri: &str| {
            current
                .iter()
                .find(|b| b.contact == uri)
                .unwrap()
                .expires_in_s(T0)
        };
        assert_eq!(expiry("sip:a@phone1"), 120, "parameter wins");
        assert_eq!(expiry("sip:a@phone2"), 300, "then the header");

        let (current, _) = ok(registrar.register(request(
            "boris",
            list(&[contact("sip:b@phone")]),
            None,
            1,
            T0,
        )));
        assert_eq!(current[0].expires_in_s(T0), 3600, "then the default");

        let (current, _) = ok(registrar.register(request(
            "vera",
            list(&[contact("sip:v@phone")]),
            Some(86_400),
            1,
            T0,
        )));
        assert_eq!(current[0].expires_in_s(T0), 3600, "capped at max_expires");
    }

    #[test]
    fn too_brief_is_423_but_zero_is_never_too_brief() {
        let mut registrar = Registrar::new(RegistrarConfig::default());
        assert_eq!(
            registrar.register(request(
                "anna",
                list(&[contact("sip:a@h")]),
                Some(59),
                1,
                T0
            )),
            RegisterOutcome::IntervalTooBrief { min_expires: 60 }
        );
        assert_eq!(
            RegisterOutcome::IntervalTooBrief { min_expires: 60 }
                .status()
                .0,
            423
        );
        assert!(registrar.lookup("anna", T0).is_empty(), "nothing changed");
        ok(registrar.register(request(
            "anna",
            list(&[contact("sip:a@h")]),
            Some(60),
            2,
            T0,
        )));
        let (current, changes) =
            ok(registrar.register(request("anna", list(&[contact("sip:a@h")]), Some(0), 3, T0)));
        assert!(current.is_empty());
        assert_eq!(
            changes,
            [BindingChange::Remove {
                login: "anna".into(),
                contact: "sip:a@h".into()
            }]
        );
    }

    #[test]
    fn zero_expiry_removes_only_that_contact() {
        let mut registrar = Registrar::new(RegistrarConfig::default());
        ok(registrar.register(request(
            "anna",
            list(&[contact("sip:a@desk"), contact("sip:a@mobile")]),
            None,
            1,
            T0,
        )));
        let mut gone = contact("sip:a@mobile");
        gone.expires_param = Some(0);
        let (current, changes) =
            ok(registrar.register(request("anna", list(&[gone]), Some(3600), 2, T0 + 10)));
        assert_eq!(contacts_of(&current), ["sip:a@desk"]);
        assert_eq!(
            changes,
            [BindingChange::Remove {
                login: "anna".into(),
                contact: "sip:a@mobile".into()
            }]
        );
    }

    #[test]
    fn star_with_expires_zero_removes_all_and_misuse_is_400() {
        let mut registrar = Registrar::new(RegistrarConfig::default());
        ok(registrar.register(request(
            "anna",
            list(&[contact("sip:a@desk"), contact("sip:a@mobile")]),
            None,
            1,
            T0,
        )));
        assert_eq!(
            registrar.register(request("anna", ContactsInput::Star, Some(60), 2, T0)),
            RegisterOutcome::BadRequest("\"Contact: *\" requires \"Expires: 0\"")
        );
        assert!(matches!(
            registrar.register(request("anna", ContactsInput::Star, None, 2, T0)),
            RegisterOutcome::BadRequest(_)
        ));
        assert!(matches!(
            registrar.register(request(
                "anna",
                list(&[contact("*"), contact("sip:a@h")]),
                Some(0),
                2,
                T0
            )),
            RegisterOutcome::BadRequest(_)
        ));
        assert_eq!(
            registrar.lookup("anna", T0).len(),
            2,
            "misuse changed nothing"
        );

        let (current, changes) =
            ok(registrar.register(request("anna", ContactsInput::Star, Some(0), 2, T0)));
        assert!(current.is_empty());
        assert_eq!(changes.len(), 2);
        assert!(registrar.lookup("anna", T0).is_empty());
        assert_eq!(registrar.registered_logins().count(), 0);
    }

    #[test]
    fn same_call_id_with_old_cseq_is_out_of_order() {
        let mut registrar = Registrar::new(RegistrarConfig::default());
        ok(registrar.register(request("anna", list(&[contact("sip:a@h")]), None, 5, T0)));
        assert_eq!(
            registrar.register(request("anna", list(&[contact("sip:a@h")]), None, 5, T0)),
            RegisterOutcome::OutOfOrder
        );
        assert_eq!(
            registrar.register(request("anna", list(&[contact("sip:a@h")]), Some(0), 4, T0)),
            RegisterOutcome::OutOfOrder
        );
        assert_eq!(
            registrar.register(request("anna", ContactsInput::Star, Some(0), 3, T0)),
            RegisterOutcome::OutOfOrder
        );
        assert_eq!(RegisterOutcome::OutOfOrder.status().0, 500);
        // A new Call-ID (the phone rebooted) may start its CSeq anywhere.
        let mut rebooted = request("anna", list(&[contact("sip:a@h")]), None, 1, T0);
        rebooted.call_id = "call-2@phone".into();
        let (current, _) = ok(registrar.register(rebooted));
        assert_eq!(current[0].call_id, "call-2@phone");
        ok(registrar.register(request("anna", list(&[contact("sip:a@h")]), None, 6, T0)));
    }

    #[test]
    fn bindings_expire_over_time() {
        let mut registrar = Registrar::new(RegistrarConfig::default());
        ok(registrar.register(request(
            "anna",
            list(&[contact("sip:a@h")]),
            Some(60),
            1,
            T0,
        )));
        ok(registrar.register(request(
            "boris",
            list(&[contact("sip:b@h")]),
            Some(120),
            1,
            T0,
        )));
        assert_eq!(registrar.next_expiry_ms(), Some(T0 + 60_000));
        assert!(registrar.expire(T0 + 59_999).is_empty());
        assert_eq!(registrar.lookup("anna", T0 + 59_999).len(), 1);
        assert!(
            registrar.lookup("anna", T0 + 60_000).is_empty(),
            "lookup hides an expired binding at once"
        );
        let expired = registrar.expire(T0 + 60_000);
        assert_eq!(contacts_of(&expired), ["sip:a@h"]);
        assert_eq!(registrar.registered_logins().collect::<Vec<_>>(), ["boris"]);
        assert_eq!(registrar.next_expiry_ms(), Some(T0 + 120_000));
        assert_eq!(registrar.expire(T0 + 500_000).len(), 1);
        assert_eq!(registrar.next_expiry_ms(), None);
    }

    #[test]
    fn restore_skips_expired_bindings() {
        let mut registrar = Registrar::new(RegistrarConfig::default());
        ok(registrar.register(request(
            "anna",
            list(&[contact("sip:a@h")]),
            Some(600),
            1,
            T0,
        )));
        ok(registrar.register(request(
            "boris",
            list(&[contact("sip:b@h")]),
            Some(60),
            1,
            T0,
        )));
        let saved: Vec<Binding> = ["anna", "boris"]
            .iter()
            .flat_map(|login| {
                registrar
                    .lookup(login, T0)
                    .into_iter()
                    .cloned()
                    .collect::<Vec<_>>()
            })
            .collect();
        let mut restarted = Registrar::new(RegistrarConfig::default());
        restarted.restore(saved, T0 + 120_000);
        assert_eq!(restarted.registered_logins().collect::<Vec<_>>(), ["anna"]);
        // The stored CSeq still guards against an old retransmission.
        assert_eq!(
            restarted.register(request(
                "anna",
                list(&[contact("sip:a@h")]),
                None,
                1,
                T0 + 120_000
            )),
            RegisterOutcome::OutOfOrder
        );
    }

    #[test]
    fn lookup_orders_by_q_and_limits_bindings_per_login() {
        let config = RegistrarConfig {
            max_bindings_per_login: 3,
            ..RegistrarConfig::default()
        };
        let mut registrar = Registrar::new(config);
        let with_q = |uri: &str, q: f32| ContactInput {
            uri: uri.into(),
            expires_param: None,
            q: Some(q),
        };
        ok(registrar.register(request(
            "anna",
            list(&[
                with_q("sip:a@low", 0.1),
                with_q("sip:a@high", 0.9),
                contact("sip:a@none"),
            ]),
            None,
            1,
            T0,
        )));
        let order: Vec<&str> = registrar
            .lookup("anna", T0)
            .iter()
            .map(|b| b.contact.as_str())
            .collect();
        assert_eq!(order, ["sip:a@none", "sip:a@high", "sip:a@low"]);

        let outcome = registrar.register(request(
            "anna",
            list(&[contact("sip:a@fourth")]),
            None,
            2,
            T0,
        ));
        assert_eq!(outcome, RegisterOutcome::TooManyBindings);
        assert_eq!(outcome.status().0, 403);
        // Refreshing, or replacing one contact by another, stays within the limit.
        ok(registrar.register(request("anna", list(&[contact("sip:a@low")]), None, 3, T0)));
        let mut drop_low = contact("sip:a@low");
        drop_low.expires_param = Some(0);
        ok(registrar.register(request(
            "anna",
            list(&[drop_low, contact("sip:a@fourth")]),
            None,
            4,
            T0,
        )));
        assert_eq!(registrar.lookup("anna", T0).len(), 3);
        assert!(matches!(
            registrar.register(request(
                "anna",
                list(&[with_q("sip:a@x", 1.5)]),
                None,
                5,
                T0
            )),
            RegisterOutcome::BadRequest(_)
        ));
    }

    #[test]
    fn remove_login_reports_every_binding() {
        let mut registrar = Registrar::new(RegistrarConfig::default());
        ok(registrar.register(request(
            "anna",
            list(&[contact("sip:a@desk"), contact("sip:a@mobile")]),
            None,
            1,
            T0,
        )));
        let changes = registrar.remove_login("anna");
        assert_eq!(changes.len(), 2);
        assert!(registrar.lookup("anna", T0).is_empty());
        assert!(registrar.remove_login("anna").is_empty());
    }

    #[test]
    fn contact_comparison_is_case_insensitive_on_scheme_host_and_params() {
        assert_eq!(
            contact_match_key("SIP:Anna@PC.Example.COM:5060;Transport=TCP;ob"),
            contact_match_key("<sip:Anna@pc.example.com:5060;ob;transport=tcp>")
        );
        assert_ne!(
            contact_match_key("sip:Anna@h"),
            contact_match_key("sip:anna@h"),
            "user part is case-sensitive"
        );
        assert_ne!(
            contact_match_key("sip:a@h"),
            contact_match_key("sip:a@h:5060"),
            "a default port is not implied"
        );
        let _ = contact_match_key("");
        let _ = contact_match_key(";;;@@::??");
    }
}
