//! Every service raises its open-files soft limit to the hard limit at start, as nginx
//! and Go do: systemd's default soft limit (1,024) is far below what a server with
//! thousands of connections needs, and each connection is a descriptor (a playback,
//! two: the socket and the file).

/// Raises the soft limit to the hard one, logs the figure, and warns when it is below
/// `needed`, what the service's connection limits need. Returns the limit in force.
pub fn raise_to_hard_limit(needed: u64) -> Option<u64> {
    let limit = raise();
    match limit {
        Some(limit) if limit < needed => tracing::warn!(
            open_files = limit,
            needed,
            "the open-files limit is below what the connection limits need; raise the hard \
             limit (LimitNOFILE= under systemd, ulimit -Hn)"
        ),
        Some(limit) => tracing::info!(open_files = limit, "open-files limit"),
        None => tracing::warn!("the open-files limit could not be read"),
    }
    limit
}

#[cfg(target_os = "linux")]
fn raise() -> Option<u64> {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let Rlimit { current, maximum } = getrlimit(Resource::Nofile);
    // `None` is unlimited: nothing to raise to, or nothing to raise.
    let (Some(current), Some(maximum)) = (current, maximum) else {
        return current.or(Some(u64::MAX));
    };
    if current >= maximum {
        return Some(current);
    }
    let raised = Rlimit {
        current: Some(maximum),
        maximum: Some(maximum),
    };
    match setrlimit(Resource::Nofile, raised) {
        Ok(()) => Some(maximum),
        Err(e) => {
            tracing::warn!(error = %e, "could not raise the open-files limit");
            Some(current)
        }
    }
}

#[cfg(not(target_os = "linux"))]
fn raise() -> Option<u64> {
    None
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    #[test]
    fn the_soft_limit_ends_at_the_hard_one() {
        use rustix::process::{Resource, getrlimit};
        let limit = super::raise_to_hard_limit(0).unwrap();
        assert_eq!(Some(limit), getrlimit(Resource::Nofile).maximum);
        assert_eq!(getrlimit(Resource::Nofile).current, Some(limit));
    }
}
