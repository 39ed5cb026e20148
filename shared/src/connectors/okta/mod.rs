//! Okta Management API v1 client (`https://<org>.okta.com/api/v1/...`) with an SSWS API token or
//! as an OAuth 2.0 service app ([`oauth`]: `private_key_jwt`, DPoP when the org requires it).
//!
//! Used to contain departing employees: find the user of an email (`GET /api/v1/users/{login}`,
//! then on 404 `GET /api/v1/users?search=profile.email eq "…"`, the answer re-checked: exactly
//! one ACTIVE user with that email), check that the configured group is an `OKTA_GROUP` (only
//! those can have members changed through the API), check membership with the user's groups
//! (`GET /api/v1/users/{u}/groups`, one request however large the group) and add or remove the
//! user (`PUT`/`DELETE /api/v1/groups/{g}/users/{u}` → 204); before a removal, the active group
//! rules (`GET /api/v1/groups/rules`) are read, and a group a rule assigns to is left alone. Listings page through
//! `Link rel="next"`, followed only on the connection's origin. See `docs/vendors/okta.md`. 429 waits
//! (`X-Rate-Limit-Reset` against `Date`) come from [`crate::http`]; the last seen
//! `X-Rate-Limit-*` values are exposed for adaptive concurrency. Wire facts follow Okta's
//! documentation: API and auth
//! <https://developer.okta.com/docs/api/openapi/okta-management/guides/overview>, rate limits
//! <https://developer.okta.com/docs/reference/rl-best-practices>, errors
//! <https://developer.okta.com/docs/reference/error-codes>.

pub(crate) mod client;
mod idp;
mod limits;
mod model;
pub mod oauth;
pub mod settings;
pub mod verify;

pub use client::{OktaClient, SYSTEM, next_link, searchable_email};
pub use idp::OktaIdp;
pub use model::{
    Group, GroupProfile, GroupRule, GroupType, RateLimit, User, UserProfile, UserStatus,
};
pub use oauth::ServiceApp;
