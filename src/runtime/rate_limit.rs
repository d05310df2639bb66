//! The client's request rate (`--qps`, `--burst`): a token bucket (`governor`'s GCRA) in the
//! kube client's service stack, as client-go's rate limiter: every request (a watch's start
//! included) takes a token; `burst` tokens may be taken at once, then `qps` a second.
//!
//! The wait happens in `poll_ready`, so the client's buffer holds the requests back in order and
//! no request is dropped.

use std::{
    future::Future,
    num::NonZeroU32,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll, ready},
};

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};

/// Default of `--qps`: chosen from the scale bench (`docs/performance.md`).
pub const DEFAULT_QPS: u32 = 200;
/// Default of `--burst`.
pub const DEFAULT_BURST: u32 = 400;

/// How fast the client may send requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Requests a second, sustained.
    pub qps: NonZeroU32,
    /// Requests that may be sent at once after a quiet time.
    pub burst: NonZeroU32,
}

impl RateLimit {
    /// The limit of `--qps` and `--burst`: none for a `qps` of 0; a `burst` of 0 is `qps`.
    #[must_use]
    pub fn from_flags(qps: u32, burst: u32) -> Option<Self> {
        let qps = NonZeroU32::new(qps)?;
        Some(Self {
            qps,
            burst: NonZeroU32::new(burst).unwrap_or(qps),
        })
    }
}

/// The layer that limits a kube client's requests to a [`RateLimit`] (all clones of the built
/// client share one bucket).
#[derive(Clone)]
pub struct RateLimitLayer {
    limiter: Arc<DefaultDirectRateLimiter>,
}

impl RateLimitLayer {
    /// A layer with one bucket of `limit`.
    #[must_use]
    pub fn new(limit: RateLimit) -> Self {
        let quota = Quota::per_second(limit.qps).allow_burst(limit.burst);
        Self {
            limiter: Arc::new(RateLimiter::direct(quota)),
        }
    }
}

impl<S> tower::Layer<S> for RateLimitLayer {
    type Service = RateLimited<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RateLimited {
            inner,
            limiter: Arc::clone(&self.limiter),
            wait: None,
            permitted: false,
        }
    }
}

/// A service that sends a request only with a token of its bucket.
pub struct RateLimited<S> {
    inner: S,
    limiter: Arc<DefaultDirectRateLimiter>,
    wait: Option<Pin<Box<dyn Future<Output = ()> + Send>>>,
    permitted: bool,
}

impl<S, R> tower::Service<R> for RateLimited<S>
where
    S: tower::Service<R>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        if !self.permitted {
            let limiter = &self.limiter;
            let wait = self.wait.get_or_insert_with(|| {
                let limiter = Arc::clone(limiter);
                Box::pin(async move { limiter.until_ready().await })
            });
            ready!(wait.as_mut().poll(cx));
            self.wait = None;
            self.permitted = true;
        }
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: R) -> Self::Future {
        self.permitted = false;
        self.inner.call(request)
    }
}

/// A kube client from `config`, its requests limited to `limit` (`None`: not limited).
///
/// # Errors
/// Building the client's HTTP stack (TLS, proxy) from `config`.
pub fn client(config: kube::Config, limit: Option<RateLimit>) -> Result<kube::Client, kube::Error> {
    let builder = kube::client::ClientBuilder::try_from(config)?;
    Ok(match limit {
        Some(limit) => builder.with_layer(&RateLimitLayer::new(limit)).build(),
        None => builder.build(),
    })
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use tower::{Service, ServiceExt};

    use super::*;

    /// A service that answers at once, counting its calls.
    #[derive(Default)]
    struct Count(usize);

    impl Service<()> for Count {
        type Response = usize;
        type Error = std::convert::Infallible;
        type Future = std::future::Ready<Result<usize, Self::Error>>;

        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
            Poll::Ready(Ok(()))
        }

        fn call(&mut self, (): ()) -> Self::Future {
            self.0 += 1;
            std::future::ready(Ok(self.0))
        }
    }

    fn limit(qps: u32, burst: u32) -> RateLimit {
        RateLimit {
            qps: NonZeroU32::new(qps).expect("qps"),
            burst: NonZeroU32::new(burst).expect("burst"),
        }
    }

    #[test]
    fn flags_of_zero_mean_no_limit_and_a_burst_of_the_rate() {
        assert_eq!(RateLimit::from_flags(0, 10), None);
        assert_eq!(RateLimit::from_flags(50, 0), Some(limit(50, 50)));
        assert_eq!(RateLimit::from_flags(50, 100), Some(limit(50, 100)));
    }

    #[tokio::test]
    async fn a_burst_goes_at_once_then_the_rate_holds() {
        let mut svc = tower::Layer::layer(&RateLimitLayer::new(limit(20, 5)), Count::default());
        let started = Instant::now();
        for _ in 0..5 {
            svc.ready().await.expect("ready").call(()).await.expect("answer");
        }
        let burst = started.elapsed();
        // Five more at 20 a second: about 250 ms (a token every 50 ms).
        for _ in 0..5 {
            svc.ready().await.expect("ready").call(()).await.expect("answer");
        }
        let after = started.elapsed();
        assert!(burst < Duration::from_millis(150), "the burst waited {burst:?}");
        assert!(
            after >= Duration::from_millis(200),
            "10 requests at 20/s with a burst of 5 took {after:?}"
        );
    }

    #[tokio::test]
    async fn ready_twice_takes_one_token() {
        let mut svc = tower::Layer::layer(&RateLimitLayer::new(limit(1, 1)), Count::default());
        // The only token: polled ready twice, one call.
        std::future::poll_fn(|cx| svc.poll_ready(cx))
            .await
            .expect("ready");
        std::future::poll_fn(|cx| svc.poll_ready(cx))
            .await
            .expect("ready");
        assert_eq!(svc.call(()).await.expect("answer"), 1);
        // The next must wait about a second.
        let started = Instant::now();
        svc.ready().await.expect("ready").call(()).await.expect("answer");
        assert!(started.elapsed() >= Duration::from_millis(800));
    }
}
