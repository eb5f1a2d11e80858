//! Integration tests of the stream server, each storage-touching one run against both
//! backends: a temp dir and a real S3-compatible server (moto) on loopback.

/// Runs each listed `async fn(Backend)` as two tests, `local::name` and `s3::name`.
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        mod local {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(crate::helpers::Backend::Local).await
                }
            )*
        }
        mod s3 {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(crate::helpers::Backend::S3).await
                }
            )*
        }
    };
}

mod helpers;
mod limiter;
mod notifier;
mod playback;
mod storage;
mod tus;
mod upload;
