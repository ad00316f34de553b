//! Creating an account: validate the name, password and e-mail, hash the password on the
//! password workers, store the account. One service for the API's sign-up and the
//! operator's `tidings admin create-user`; it knows nothing of HTTP (the API turns a
//! [`Refusal`] into Mastodon's 422 with `details`, the CLI prints it).

use crate::domain::entities::AccountRecord;
use crate::domain::validate::{self, Password, Username};
use crate::passwords::{Busy, passwords};
use crate::store::{NewAccount, Store, StoreError};

/// Who is creating an account: someone signing up through the API may not take a
/// reserved name; the operator at a shell may.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Creator {
    SignUp,
    Operator,
}

/// What a new account asks for.
pub struct Request<'a> {
    pub username: &'a str,
    pub password: &'a str,
    pub email: Option<String>,
    pub admin: bool,
    pub creator: Creator,
}

/// One field's problem, as Mastodon names it (`ERR_INVALID`, `ERR_TAKEN`, …).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: &'static str,
    pub code: &'static str,
    pub description: String,
}

#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    #[error("Validation failed: {}", describe(.0))]
    Invalid(Vec<FieldError>),
    #[error(transparent)]
    Busy(#[from] Busy),
    #[error("cannot hash the password: {0}")]
    Hashing(String),
    #[error(transparent)]
    Store(StoreError),
}

fn describe(errors: &[FieldError]) -> String {
    errors
        .iter()
        .map(|e| format!("{} {}", e.field, e.description))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Validate, hash and store a new account.
pub async fn create(store: &dyn Store, r: Request<'_>) -> Result<AccountRecord, Refusal> {
    let mut errors = Vec::new();
    let mut refuse = |field, code, e: &validate::Invalid| {
        errors.push(FieldError {
            field,
            code,
            description: e.to_string(),
        })
    };
    let username = match r.creator {
        Creator::SignUp => Username::parse_new(r.username),
        Creator::Operator => Username::parse(r.username),
    };
    let password = Password::parse(r.password);
    let email = r
        .email
        .filter(|e| !e.is_empty())
        .map(|e| validate::email(&e))
        .transpose();
    if let Err(e) = &username {
        let code = if e.0 == "is reserved" {
            "ERR_RESERVED"
        } else {
            "ERR_INVALID"
        };
        refuse("username", code, e);
    }
    if let Err(e) = &password {
        let code = if e.0.contains("long") {
            "ERR_TOO_LONG"
        } else {
            "ERR_TOO_SHORT"
        };
        refuse("password", code, e);
    }
    if let Err(e) = &email {
        refuse("email", "ERR_INVALID", e);
    }
    let (Ok(username), Ok(password), Ok(email)) = (username, password, email) else {
        return Err(Refusal::Invalid(errors));
    };
    let hash = passwords()
        .hash(password.expose().to_string())
        .await?
        .map_err(Refusal::Hashing)?;
    store
        .create_account(NewAccount {
            username: username.as_str().to_string(),
            email,
            password_hash: hash,
            is_admin: r.admin,
        })
        .await
        .map_err(|e| match e {
            StoreError::Taken(field) => Refusal::Invalid(vec![FieldError {
                field: if field == "email" {
                    "email"
                } else {
                    "username"
                },
                code: "ERR_TAKEN",
                description: "has already been taken".into(),
            }]),
            other => Refusal::Store(other),
        })
}
