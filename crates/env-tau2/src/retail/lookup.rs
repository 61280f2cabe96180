//! The retail user look-ups (`find_user_id_by_name_zip`,
//! `find_user_id_by_email`), answered from an index of the loaded users
//! (lowercased first name and email -> positions) that every episode
//! shares, plus the users the episode wrote; the answers (and the errors,
//! and when they are raised) are those of the original's scan.

use std::collections::HashMap;

use serde_json::Value;

use super::model::{RetailDb, User};
use crate::py;
use crate::table::IdBuild;
use crate::text::Text;

/// Positions of the loaded users by lowercased first name and by
/// lowercased email.
#[derive(Default)]
pub(super) struct UserIndex {
    first_names: HashMap<String, Vec<usize>, IdBuild>,
    emails: HashMap<String, Vec<usize>, IdBuild>,
}

impl UserIndex {
    fn build(users: &mut dyn Iterator<Item = &User>) -> Self {
        let mut index = Self::default();
        for (position, user) in users.enumerate() {
            index
                .first_names
                .entry(user.name.first_name.to_lowercase())
                .or_default()
                .push(position);
            index
                .emails
                .entry(user.email.to_lowercase())
                .or_default()
                .push(position);
        }
        index
    }
}

impl RetailDb {
    /// Builds the users' index now (the domain's shared tables do this
    /// once, so no episode pays for it).
    pub(crate) fn prime_index(&self) {
        let _ = self.users.base_index(UserIndex::build);
    }

    /// The positions of the users whose lowercased `field` (per `pick`)
    /// may equal `wanted`, in table order; `None` to scan them all.
    fn user_candidates(
        &self,
        pick: impl Fn(&UserIndex) -> &HashMap<String, Vec<usize>, IdBuild>,
        wanted: &str,
    ) -> Option<Vec<usize>> {
        let index = self.users.base_index(UserIndex::build)?;
        let positions = pick(index).get(wanted).map_or(&[][..], Vec::as_slice);
        Some(self.users.candidates(positions))
    }

    /// The users at `positions` (all of them when `None`), in order.
    fn users_at<'a>(
        &'a self,
        positions: Option<&'a [usize]>,
    ) -> Box<dyn Iterator<Item = (&'a str, &'a User)> + 'a> {
        match positions {
            Some(positions) => Box::new(
                positions
                    .iter()
                    .filter_map(|&i| self.users.get_index(i))
                    .map(|(k, v)| (&**k, &**v)),
            ),
            None => Box::new(self.users.iter().map(|(k, v)| (&**k, &**v))),
        }
    }

    pub(super) fn find_user_id_by_email(&self, email: &Value) -> Result<Text, String> {
        // `email.lower()` runs (and may raise) only when there is a user.
        if self.users.is_empty() {
            return Err("User not found".to_string());
        }
        let wanted = py::lower(email)?;
        let candidates = self.user_candidates(|i| &i.emails, &wanted);
        self.users_at(candidates.as_deref())
            .find(|(_, u)| py::lower_eq(&u.email, &wanted))
            .map(|(id, _)| Text::Owned(id.to_string()))
            .ok_or_else(|| "User not found".to_string())
    }

    pub(super) fn find_user_id_by_name_zip(
        &self,
        first: &Value,
        last: &Value,
        zip: &Value,
    ) -> Result<Text, String> {
        // Python lowercases the arguments per user, in the `and` chain's
        // order: `first_name.lower()` raises at the first user,
        // `last_name.lower()` only once a first name matched.
        if self.users.is_empty() {
            return Err("User not found".to_string());
        }
        let first = py::lower(first)?;
        let candidates = self.user_candidates(|i| &i.first_names, &first);
        let mut last_lower: Option<String> = None;
        for (id, user) in self.users_at(candidates.as_deref()) {
            if !py::lower_eq(&user.name.first_name, &first) {
                continue;
            }
            let last = match &last_lower {
                Some(l) => l,
                None => last_lower.insert(py::lower(last)?),
            };
            if py::lower_eq(&user.name.last_name, last)
                && matches!(zip, Value::String(z) if *z == user.address.zip)
            {
                return Ok(Text::Owned(id.to_string()));
            }
        }
        Err("User not found".to_string())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::domain::{Db, Domain, DomainData};

    /// The indexed look-ups answer as a scan of the current users does,
    /// written users included.
    #[test]
    fn indexed_lookups_follow_writes() {
        let data = DomainData::load(Domain::Retail).unwrap();
        let Db::Retail(mut db) = data.db.clone() else {
            unreachable!()
        };
        let (id, user) = db
            .users
            .get_index(7)
            .map(|(k, u)| (k.to_string(), (**u).clone()))
            .unwrap();
        let find = |db: &super::RetailDb, zip: &str| {
            db.find_user_id_by_name_zip(
                &json!(user.name.first_name.to_uppercase()),
                &json!(user.name.last_name),
                &json!(zip),
            )
            .map(|t| t.to_string())
        };
        assert_eq!(find(&db, &user.address.zip), Ok(id.clone()));
        assert_eq!(
            db.find_user_id_by_email(&json!(user.email.to_uppercase()))
                .map(|t| t.to_string()),
            Ok(id.clone())
        );
        db.users.get_mut(&id).unwrap().address.zip = "00000".to_string();
        assert_eq!(find(&db, "00000"), Ok(id.clone()));
        assert_eq!(
            find(&db, &user.address.zip),
            Err("User not found".to_string())
        );
        // A written user whose name now matches is found in table order.
        let (other, _) = db
            .users
            .get_index(3)
            .map(|(k, u)| (k.to_string(), u.clone()))
            .unwrap();
        let written = db.users.get_mut(&other).unwrap();
        written.name = user.name.clone();
        written.address.zip = "00000".to_string();
        written.email = user.email.clone();
        assert_eq!(find(&db, "00000"), Ok(other.clone()));
        assert_eq!(
            db.find_user_id_by_email(&json!(user.email))
                .map(|t| t.to_string()),
            Ok(other)
        );
        assert!(db.find_user_id_by_email(&json!(["x"])).is_err());
    }
}
