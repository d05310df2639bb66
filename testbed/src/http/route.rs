//! Parsing request paths into what they address.

/// What a path addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// `/version`
    Version,
    /// `/healthz`, `/readyz`, `/livez`
    Health,
    /// `/api`
    CoreVersions,
    /// `/apis`
    Groups,
    /// `/apis/<group>`
    Group(String),
    /// `/api/v1`, `/apis/<group>/<version>`
    ResourceList(String, String),
    /// `/openapi/v3`
    OpenApiIndex,
    /// `/openapi/v3/<api/v1 | apis/group/version>`
    OpenApiDocument(String),
    /// A resource path.
    Resource(ResourcePath),
    /// Anything else.
    Unknown,
}

/// A path to a collection, an object or a subresource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourcePath {
    /// API group (`""` for core).
    pub group: String,
    /// Version.
    pub version: String,
    /// Namespace from the path.
    pub namespace: Option<String>,
    /// Plural resource name.
    pub plural: String,
    /// Object name (absent for collections).
    pub name: Option<String>,
    /// Subresource (`status`, `scale`).
    pub subresource: Option<String>,
}

/// Parses `path`; `is_namespaced_plural(group, version, plural)` tells `namespaces/<n>/<plural>`
/// from `namespaces/<name>/<subresource>`.
pub fn parse(path: &str, is_namespaced_plural: impl Fn(&str, &str, &str) -> bool) -> Route {
    let segs: Vec<&str> = path
        .trim_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    match segs.as_slice() {
        ["version"] => Route::Version,
        ["healthz" | "readyz" | "livez", ..] => Route::Health,
        ["api"] => Route::CoreVersions,
        ["apis"] => Route::Groups,
        ["apis", g] => Route::Group((*g).to_owned()),
        ["api", v] => Route::ResourceList(String::new(), (*v).to_owned()),
        ["apis", g, v] => Route::ResourceList((*g).to_owned(), (*v).to_owned()),
        ["openapi", "v3"] => Route::OpenApiIndex,
        ["openapi", "v3", rest @ ..] => Route::OpenApiDocument(rest.join("/")),
        ["api", v, rest @ ..] => resource("", v, rest, &is_namespaced_plural),
        ["apis", g, v, rest @ ..] => resource(g, v, rest, &is_namespaced_plural),
        _ => Route::Unknown,
    }
}

fn resource(
    group: &str,
    version: &str,
    rest: &[&str],
    is_namespaced_plural: &impl Fn(&str, &str, &str) -> bool,
) -> Route {
    let own = |s: &&str| (*s).to_owned();
    let rp = |namespace: Option<String>, plural: &str, name: Option<String>, sub: Option<String>| {
        Route::Resource(ResourcePath {
            group: group.to_owned(),
            version: version.to_owned(),
            namespace,
            plural: plural.to_owned(),
            name,
            subresource: sub,
        })
    };
    match rest {
        ["namespaces", ns, plural, tail @ ..] if is_namespaced_plural(group, version, plural) => match tail {
            [] => rp(Some((*ns).to_owned()), plural, None, None),
            [name] => rp(Some((*ns).to_owned()), plural, Some(own(name)), None),
            [name, sub] => rp(Some((*ns).to_owned()), plural, Some(own(name)), Some(own(sub))),
            _ => Route::Unknown,
        },
        [plural] => rp(None, plural, None, None),
        [plural, name] => rp(None, plural, Some(own(name)), None),
        [plural, name, sub] => rp(None, plural, Some(own(name)), Some(own(sub))),
        _ => Route::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(path: &str) -> Route {
        parse(path, |g, _, plural| {
            (g, plural) != ("", "namespaces") && plural != "status"
        })
    }

    #[test]
    fn parses_collections_objects_and_subresources() {
        let Route::Resource(r) = p("/apis/apps/v1/namespaces/shop/deployments/web/scale") else {
            panic!("resource")
        };
        assert_eq!(
            (r.group.as_str(), r.namespace.as_deref(), r.plural.as_str()),
            ("apps", Some("shop"), "deployments")
        );
        assert_eq!(
            (r.name.as_deref(), r.subresource.as_deref()),
            (Some("web"), Some("scale"))
        );
        let Route::Resource(r) = p("/api/v1/namespaces/shop") else {
            panic!("resource")
        };
        assert_eq!(
            (r.plural.as_str(), r.name.as_deref(), r.namespace),
            ("namespaces", Some("shop"), None)
        );
        let Route::Resource(r) = p("/api/v1/namespaces/shop/status") else {
            panic!("resource")
        };
        assert_eq!(r.subresource.as_deref(), Some("status"));
        let Route::Resource(r) = p("/apis/ecsbridge.io/v1alpha1/services") else {
            panic!("resource")
        };
        assert_eq!((r.namespace, r.name), (None, None));
        assert_eq!(p("/apis"), Route::Groups);
        assert_eq!(
            p("/openapi/v3/apis/apps/v1"),
            Route::OpenApiDocument("apis/apps/v1".into())
        );
    }
}
