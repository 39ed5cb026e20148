//! The DNS resolver every client resolves through: a name with a forbidden address among its
//! answers is refused, so DNS rebinding and redirects gain nothing.

use super::*;

/// Errors of the guarded resolver.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    #[error("{0} resolves to a forbidden address")]
    Forbidden(String),
    #[error("could not resolve {0}")]
    Lookup(String),
}

type LookupFn =
    Arc<dyn Fn(String) -> BoxFuture<'static, std::io::Result<Vec<IpAddr>>> + Send + Sync>;

/// DNS resolver that refuses every name with a forbidden address among its answers.
#[derive(Clone)]
pub struct GuardedResolver {
    allow_private: bool,
    lookup: LookupFn,
}

impl GuardedResolver {
    /// The system resolver, guarded (unless `allow_private`).
    pub fn new(allow_private: bool) -> Self {
        let lookup: LookupFn = Arc::new(|host: String| {
            Box::pin(async move {
                let addrs = tokio::net::lookup_host((host.as_str(), 0)).await?;
                Ok(addrs.map(|a| a.ip()).collect())
            })
        });
        GuardedResolver {
            allow_private,
            lookup,
        }
    }

    /// A guarded resolver over another lookup function (tests simulate DNS rebinding with it).
    pub fn with_lookup(allow_private: bool, lookup: LookupFn) -> Self {
        GuardedResolver {
            allow_private,
            lookup,
        }
    }

    /// Resolve and check.
    pub async fn lookup(&self, host: &str) -> Result<Vec<IpAddr>, ResolveError> {
        let ips = (self.lookup)(host.to_string())
            .await
            .map_err(|_| ResolveError::Lookup(host.to_string()))?;
        if ips.is_empty() {
            return Err(ResolveError::Lookup(host.to_string()));
        }
        if !self.allow_private && ips.iter().any(|ip| is_forbidden(*ip)) {
            return Err(ResolveError::Forbidden(host.to_string()));
        }
        Ok(ips)
    }
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let this = self.clone();
        let host = name.as_str().to_string();
        Box::pin(async move {
            let ips = this.lookup(&host).await?;
            let addrs: Addrs = Box::new(ips.into_iter().map(|ip| SocketAddr::new(ip, 0)));
            Ok(addrs)
        })
    }
}
