//! Integration tests of the stream server, each storage-touching one run against both
//! stores: a temp dir and a real S3-compatible server (moto) on loopback.

/// Runs each listed `async fn(Store)` as two tests, `local::name` and `s3::name`.
macro_rules! both_stores {
    ($($name:ident),* $(,)?) => {
        mod local {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(crate::helpers::Store::Local).await
                }
            )*
        }
        mod s3 {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(crate::helpers::Store::S3).await
                }
            )*
        }
    };
}

mod helpers;
mod limiter;
mod notifier;
mod playback;
mod staging;
mod storage;
mod tus;
mod upload;
