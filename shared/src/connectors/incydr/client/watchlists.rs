//! [`IncydrClient`]'s watchlist (v2), actor and user calls.

use super::*;

/// The SDK sends the null keys too: `{"description":null,"title":null,"watchlistType":"…"}`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CreateWatchlistBody<'a> {
    description: Option<&'a str>,
    title: Option<&'a str>,
    watchlist_type: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct WatchlistActorsBody<'a> {
    actor_ids: &'a [String],
    watchlist_id: &'a str,
}

struct Patch<'a, T>(&'a FieldUpdate<T>);

impl<T: fmt::Display> Serialize for Patch<'_, T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            FieldUpdate::Set(v) => s.collect_str(v),
            FieldUpdate::Clear | FieldUpdate::Keep => s.serialize_none(),
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ActorPatchBody<'a> {
    #[serde(skip_serializing_if = "skip_keep")]
    notes: Patch<'a, String>,
    #[serde(skip_serializing_if = "skip_keep")]
    start_date: Patch<'a, jiff::civil::Date>,
    #[serde(skip_serializing_if = "skip_keep")]
    end_date: Patch<'a, jiff::civil::Date>,
}

fn skip_keep<T>(p: &Patch<'_, T>) -> bool {
    p.0.is_keep()
}

impl IncydrClient {
    // Watchlists v2 ----------------------------------------------------------------------------

    /// `GET /v2/watchlists?page=&pageSize=[&actorId=]` (`page` is 1-based).
    pub async fn list_watchlists(
        &self,
        page: u32,
        page_size: u32,
        actor_id: Option<&str>,
        deadline: Option<Instant>,
    ) -> Result<WatchlistPage, ConnectorError> {
        // The serializer is not Send: finish it before awaiting.
        let query = {
            let mut q = url::form_urlencoded::Serializer::new(String::new());
            q.append_pair("page", &page.to_string());
            q.append_pair("pageSize", &page_size.to_string());
            if let Some(a) = actor_id {
                q.append_pair("actorId", a);
            }
            q.finish()
        };
        self.get_json(&format!("/v2/watchlists?{query}"), deadline)
            .await
    }

    /// The id of the watchlist whose `listType` is `name` (or, for `CUSTOM` lists, whose title
    /// is `name`), looking through pages of 100.
    pub async fn find_watchlist_id(
        &self,
        name: &str,
        deadline: Option<Instant>,
    ) -> Result<Option<String>, ConnectorError> {
        for page in 1..=MAX_PAGES {
            let got = self
                .list_watchlists(page, WATCHLIST_PAGE_SIZE, None, deadline)
                .await?;
            let n = got.watchlists.len();
            let by_type = got.watchlists.iter().find(|w| {
                w.list_type.as_ref().is_some_and(|t| t.as_str() == name)
                    && w.watchlist_id.as_deref().is_some_and(|id| !id.is_empty())
            });
            let by_title = || {
                got.watchlists.iter().find(|w| {
                    w.list_type == Some(WatchlistType::Custom)
                        && w.title.as_deref() == Some(name)
                        && w.watchlist_id.as_deref().is_some_and(|id| !id.is_empty())
                })
            };
            if let Some(w) = by_type.or_else(by_title) {
                return Ok(w.watchlist_id.clone());
            }
            if n < WATCHLIST_PAGE_SIZE as usize {
                break;
            }
        }
        Ok(None)
    }

    /// The DEPARTING_EMPLOYEE watchlist's id, creating the list when the tenant has none; a
    /// create refused because another worker created it meanwhile reads the list again.
    pub async fn departing_watchlist_id(
        &self,
        deadline: Option<Instant>,
    ) -> Result<String, ConnectorError> {
        let name = WatchlistType::DepartingEmployee;
        if let Some(id) = self.find_watchlist_id(name.as_str(), deadline).await? {
            return Ok(id);
        }
        let body = Body::json(&CreateWatchlistBody {
            description: None,
            title: None,
            watchlist_type: name.as_str(),
        })?;
        let call = Call::new(SYSTEM, Method::POST, "/v2/watchlists");
        let created = match self
            .send(Method::POST, "/v2/watchlists", &body, false, deadline)
            .await
        {
            Ok(resp) => http::read_json::<Watchlist>(&call, resp).await?,
            // Another worker created it between the look-up and the create (Incydr holds one
            // watchlist of each type and refuses a second): read again and use theirs.
            Err(e) if matches!(e.status(), Some(400 | 409)) => {
                return match self.find_watchlist_id(name.as_str(), deadline).await? {
                    Some(id) => Ok(id),
                    None => Err(e),
                };
            }
            Err(e) => return Err(e),
        };
        match created.watchlist_id {
            Some(id) if !id.is_empty() => Ok(id),
            _ => Err(HttpError::decode(&call, "the created watchlist has no watchlistId").into()),
        }
    }

    fn check_actor_ids(actor_ids: &[String]) -> Result<(), ConnectorError> {
        if actor_ids.len() > MAX_IDS_PER_REQUEST {
            return Err(ConnectorError::invalid(
                SYSTEM,
                format!(
                    "at most {MAX_IDS_PER_REQUEST} actors can be changed on a watchlist at once, not {}",
                    actor_ids.len()
                ),
            ));
        }
        Ok(())
    }

    /// `POST /v2/watchlists/{id}/included-actors/add` `{"actorIds":[…],"watchlistId":…}`. More
    /// than 100 ids are refused before sending; no ids send nothing. Not repeated after it may
    /// have arrived (re-add behaviour is unconfirmed; check with [`Self::included_actor`]).
    pub async fn add_included_actors(
        &self,
        watchlist_id: &str,
        actor_ids: &[String],
        deadline: Option<Instant>,
    ) -> Result<(), ConnectorError> {
        self.change_included(watchlist_id, actor_ids, "add", false, deadline)
            .await
    }

    /// `POST /v2/watchlists/{id}/included-actors/delete`, same body and limits as the add.
    pub async fn remove_included_actors(
        &self,
        watchlist_id: &str,
        actor_ids: &[String],
        deadline: Option<Instant>,
    ) -> Result<(), ConnectorError> {
        self.change_included(watchlist_id, actor_ids, "delete", true, deadline)
            .await
    }

    async fn change_included(
        &self,
        watchlist_id: &str,
        actor_ids: &[String],
        action: &str,
        idempotent: bool,
        deadline: Option<Instant>,
    ) -> Result<(), ConnectorError> {
        Self::check_actor_ids(actor_ids)?;
        if actor_ids.is_empty() {
            return Ok(());
        }
        let body = Body::json(&WatchlistActorsBody {
            actor_ids,
            watchlist_id,
        })?;
        self.send(
            Method::POST,
            &format!(
                "/v2/watchlists/{}/included-actors/{action}",
                http::path_segment(watchlist_id)
            ),
            &body,
            idempotent,
            deadline,
        )
        .await?;
        Ok(())
    }

    /// `GET /v2/watchlists/{id}/included-actors/{actorId}`; `None` on 404 (not included).
    pub async fn included_actor(
        &self,
        watchlist_id: &str,
        actor_id: &str,
        deadline: Option<Instant>,
    ) -> Result<Option<WatchlistActor>, ConnectorError> {
        self.get_optional(
            &format!(
                "/v2/watchlists/{}/included-actors/{}",
                http::path_segment(watchlist_id),
                http::path_segment(actor_id)
            ),
            deadline,
        )
        .await
    }

    /// Whether the actor is on the watchlist, explicitly or through a department or directory
    /// group: `GET /v2/watchlists/{id}/members/{actorId}` (404 ⇒ not a member).
    pub async fn is_member(
        &self,
        watchlist_id: &str,
        actor_id: &str,
        deadline: Option<Instant>,
    ) -> Result<bool, ConnectorError> {
        let m: Option<WatchlistActor> = self
            .get_optional(
                &format!(
                    "/v2/watchlists/{}/members/{}",
                    http::path_segment(watchlist_id),
                    http::path_segment(actor_id)
                ),
                deadline,
            )
            .await?;
        Ok(m.is_some())
    }

    // Actors and users -------------------------------------------------------------------------

    /// The (parent) actor named `name`, usually an email:
    /// `GET /v1/actors/actor/name/{name}/parent`; `None` on 404.
    pub async fn actor_by_name(
        &self,
        name: &str,
        deadline: Option<Instant>,
    ) -> Result<Option<Actor>, ConnectorError> {
        if name.trim().is_empty() {
            return Err(ConnectorError::invalid(
                SYSTEM,
                "an actor name cannot be empty",
            ));
        }
        self.get_optional(
            &format!("/v1/actors/actor/name/{}/parent", http::path_segment(name)),
            deadline,
        )
        .await
    }

    /// `GET /v1/actors/actor/id/{id}`; `None` on 404.
    pub async fn actor_by_id(
        &self,
        actor_id: &str,
        deadline: Option<Instant>,
    ) -> Result<Option<Actor>, ConnectorError> {
        self.get_optional(
            &format!("/v1/actors/actor/id/{}", http::path_segment(actor_id)),
            deadline,
        )
        .await
    }

    /// `PATCH /v1/actors/actor/id/{id}` with only the fields the update sets (a cleared field
    /// is sent as `null`). Answers the updated actor. An empty update is refused.
    pub async fn update_actor(
        &self,
        actor_id: &str,
        update: &ActorUpdate,
        deadline: Option<Instant>,
    ) -> Result<Actor, ConnectorError> {
        if update.is_empty() {
            return Err(ConnectorError::invalid(
                SYSTEM,
                "the actor update changes nothing",
            ));
        }
        let body = Body::json(&ActorPatchBody {
            notes: Patch(&update.notes),
            start_date: Patch(&update.start_date),
            end_date: Patch(&update.end_date),
        })?;
        let path = format!("/v1/actors/actor/id/{}", http::path_segment(actor_id));
        // Setting fields to fixed values: safe to repeat.
        let resp = self
            .send(Method::PATCH, &path, &body, true, deadline)
            .await?;
        let call = Call::new(SYSTEM, Method::PATCH, path.as_str());
        Ok(http::read_json(&call, resp).await?)
    }

    /// The console user with this username:
    /// `GET /v1/users?username=<enc>&page=1&pageSize=100`; `None` when no user matches.
    pub async fn user_by_username(
        &self,
        username: &str,
        deadline: Option<Instant>,
    ) -> Result<Option<User>, ConnectorError> {
        let query = {
            let mut q = url::form_urlencoded::Serializer::new(String::new());
            q.append_pair("username", username);
            q.append_pair("page", "1");
            q.append_pair("pageSize", "100");
            q.finish()
        };
        let page: UserPage = self
            .get_json(&format!("/v1/users?{query}"), deadline)
            .await?;
        Ok(page.users.into_iter().find(|u| {
            u.username
                .as_deref()
                .is_some_and(|n| n.eq_ignore_ascii_case(username))
        }))
    }
}
