//! Okta Management API v1 client (`https://<org>.okta.com/api/v1/...`) with an SSWS API token.
//!
//! Used to contain departing employees: look a user up by login, check that the configured
//! group is an `OKTA_GROUP` (only those can have members changed through the API), and add or
//! remove the user (`PUT`/`DELETE /api/v1/groups/{g}/users/{u}` → 204). Member lists page
//! through `Link rel="next"`, followed only on the connection's origin. 429 waits
//! (`X-Rate-Limit-Reset` against `Date`) come from [`crate::http`]; the last seen
//! `X-Rate-Limit-*` values are exposed for adaptive concurrency. Wire facts follow Okta's
//! documentation: API and auth
//! <https://developer.okta.com/docs/api/openapi/okta-management/guides/overview>, rate limits
//! <https://developer.okta.com/docs/reference/rl-best-practices>, errors
//! <https://developer.okta.com/docs/reference/error-codes>.

mod client;
mod idp;
mod limits;
mod model;
pub mod settings;
pub mod verify;

pub use client::{OktaClient, SYSTEM, next_link};
pub use idp::OktaIdp;
pub use model::{Group, GroupProfile, GroupType, RateLimit, User, UserProfile, UserStatus};
