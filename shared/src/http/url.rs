//! The outbound-address rules and the URL rules for what users and servers give us.

use super::*;

/// Why an address or URL is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    #[error("URL not allowed: {0} is not a valid URL")]
    Invalid(String),
    #[error("URL not allowed: only https:// URLs are accepted")]
    NotHttps,
    #[error("URL not allowed: credentials in the URL are not accepted")]
    HasCredentials,
    #[error("URL not allowed: it has no host")]
    NoHost,
    #[error("URL not allowed: it resolves to a private address")]
    PrivateAddress,
    #[error("URL not allowed: {0} could not be resolved")]
    Unresolvable(String),
}

/// Whether an address is one the flows must never connect to: loopback, private, link-local
/// (incl. 169.254.169.254), CGNAT, unique-local, unspecified, multicast, broadcast, reserved,
/// documentation ranges, and IPv4-mapped / NAT64 / 6to4 forms of these.
pub fn is_forbidden(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => forbidden_v4(v4),
        IpAddr::V6(v6) => forbidden_v6(v6),
    }
}

fn forbidden_v4(ip: Ipv4Addr) -> bool {
    let o = ip.octets();
    ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || o[0] == 0 // 0.0.0.0/8 "this network"
        || (o[0] == 100 && (o[1] & 0xc0) == 64) // 100.64.0.0/10 CGNAT
        || (o[0] == 192 && o[1] == 0 && o[2] == 0) // 192.0.0.0/24 IETF protocol assignments
        || (o[0] == 198 && (o[1] & 0xfe) == 18) // 198.18.0.0/15 benchmarking
        || o[0] >= 240 // 240.0.0.0/4 reserved
}

fn forbidden_v6(ip: Ipv6Addr) -> bool {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return forbidden_v4(v4);
    }
    let seg = ip.segments();
    // IPv4-compatible (deprecated) ::a.b.c.d
    if seg[..6] == [0, 0, 0, 0, 0, 0] && !ip.is_loopback() && !ip.is_unspecified() {
        return forbidden_v4(Ipv4Addr::new(
            (seg[6] >> 8) as u8,
            seg[6] as u8,
            (seg[7] >> 8) as u8,
            seg[7] as u8,
        ));
    }
    // NAT64 64:ff9b::/96 embeds an IPv4 address
    if seg[0] == 0x64 && seg[1] == 0xff9b && seg[2..6] == [0, 0, 0, 0] {
        return forbidden_v4(Ipv4Addr::new(
            (seg[6] >> 8) as u8,
            seg[6] as u8,
            (seg[7] >> 8) as u8,
            seg[7] as u8,
        ));
    }
    // 6to4 2002::/16 embeds an IPv4 address in segments 1-2
    if seg[0] == 0x2002 {
        return forbidden_v4(Ipv4Addr::new(
            (seg[1] >> 8) as u8,
            seg[1] as u8,
            (seg[2] >> 8) as u8,
            seg[2] as u8,
        ));
    }
    ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        || (seg[0] & 0xfe00) == 0xfc00 // fc00::/7 unique local
        || (seg[0] & 0xffc0) == 0xfe80 // fe80::/10 link local
        || (seg[0] & 0xffc0) == 0xfec0 // fec0::/10 site local (deprecated)
        || (seg[0] == 0x2001 && seg[1] == 0x0db8) // documentation
}

/// Check a URL a user gave: https only, no credentials in it, a host, and an IP-literal host
/// must not be forbidden. Names are checked when they are resolved ([`GuardedResolver`]).
pub fn check_user_url(raw: &str, allow_private: bool) -> Result<Url, UrlError> {
    let url = Url::parse(raw.trim()).map_err(|_| UrlError::Invalid(raw.trim().to_string()))?;
    match url.scheme() {
        "https" => {}
        "http" if allow_private => {}
        _ => return Err(UrlError::NotHttps),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(UrlError::HasCredentials);
    }
    check_address(&url, allow_private)?;
    Ok(url)
}

/// Check the host of a URL about to be used: it must have one, and an IP-literal host must not
/// be forbidden (unless `allow_private`). Names are checked when they are resolved
/// ([`GuardedResolver`]).
pub fn check_address(url: &Url, allow_private: bool) -> Result<(), UrlError> {
    let literal = match url.host() {
        None => return Err(UrlError::NoHost),
        Some(::url::Host::Ipv4(ip)) => IpAddr::V4(ip),
        Some(::url::Host::Ipv6(ip)) => IpAddr::V6(ip),
        Some(::url::Host::Domain(_)) => return Ok(()),
    };
    if !allow_private && is_forbidden(literal) {
        return Err(UrlError::PrivateAddress);
    }
    Ok(())
}

/// Resolve a URL's host now and refuse it when any address is forbidden. Used by the connect
/// route so the user reads a precise message before anything is sent.
pub async fn check_resolves(url: &Url, allow_private: bool) -> Result<(), UrlError> {
    if allow_private {
        return Ok(());
    }
    let host = match url.host() {
        Some(::url::Host::Domain(d)) => d.to_string(),
        Some(_) => return Ok(()), // IP literals were checked by check_user_url
        None => return Err(UrlError::NoHost),
    };
    let resolver = GuardedResolver::new(false);
    resolver
        .lookup(&host)
        .await
        .map(|_| ())
        .map_err(|e| match e {
            ResolveError::Forbidden(_) => UrlError::PrivateAddress,
            ResolveError::Lookup(_) => UrlError::Unresolvable(host),
        })
}

/// Everything but RFC 3986's unreserved characters and `@`.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'@');

/// Percent-encode user data for one URL path segment (everything but unreserved characters
/// and `@`, which RFC 3986 allows in a segment and Incydr expects as-is in actor names).
pub fn path_segment(s: &str) -> String {
    let encoded = utf8_percent_encode(s, SEGMENT).to_string();
    // "." and ".." are legal characters but would be path navigation as whole segments.
    match encoded.as_str() {
        "." => "%2E".to_string(),
        ".." => "%2E%2E".to_string(),
        _ => encoded,
    }
}

/// Percent-encode user data for one query parameter value: as [`path_segment`] (a space is
/// `%20`, never `+`, and `&`, `=`, `+`, `"` are encoded).
pub fn query_value(s: &str) -> String {
    utf8_percent_encode(s, SEGMENT).to_string()
}

/// Whether a link a server returned (a next-page link) stays on the connection's origin.
pub fn same_origin(base: &Url, link: &Url) -> bool {
    base.scheme() == link.scheme()
        && base.host_str() == link.host_str()
        && base.port_or_known_default() == link.port_or_known_default()
}

/// Join a base URL (which may carry a path prefix, e.g. `http://127.0.0.1:9/jira`) and an
/// absolute API path (`/rest/api/3/myself`, possibly with a query string).
pub fn join(base: &Url, path_and_query: &str) -> Result<Url, UrlError> {
    let joined = format!(
        "{}/{}",
        base.as_str().trim_end_matches('/'),
        path_and_query.trim_start_matches('/')
    );
    Url::parse(&joined).map_err(|_| UrlError::Invalid(joined))
}
