//! URLs as they may be shown: in messages, logs, JSON and the page, the
//! credentials of `scheme://user:password@host` never appear.

use std::borrow::Cow;

/// `url` with any `user:password@` (or `user@`) replaced by `***@`.
pub fn redacted(url: &str) -> Cow<'_, str> {
    let Some((scheme, rest)) = url.split_once("://") else {
        return Cow::Borrowed(url);
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((_, host)) => Cow::Owned(format!("{scheme}://***@{host}{path}")),
        None => Cow::Borrowed(url),
    }
}

#[cfg(test)]
mod tests {
    use super::redacted;

    #[test]
    fn credentials_never_show() {
        assert_eq!(
            redacted("https://mempool.space/api"),
            "https://mempool.space/api"
        );
        assert_eq!(
            redacted("https://alice:s3cret@node.lan:3006/api?x=1"),
            "https://***@node.lan:3006/api?x=1"
        );
        assert_eq!(redacted("http://token@host"), "http://***@host");
        // An @ in the path is not a credential.
        assert_eq!(redacted("http://host/a@b"), "http://host/a@b");
        assert_eq!(redacted("not a url"), "not a url");
    }
}
