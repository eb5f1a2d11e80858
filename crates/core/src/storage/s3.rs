//! An S3-compatible bucket through `object_store`'s `AmazonS3`, every key under an
//! optional prefix of the bucket.

use std::sync::Arc;

use object_store::aws::AmazonS3Builder;
use object_store::path::Path;
use object_store::prefix::PrefixStore;

use super::{Inner, StorageError, StorageOptions, keys};

/// Every part of a multipart upload but the last has this size: above S3's 5 MiB
/// minimum, and equal sizes keep stores that demand them (R2) happy.
pub(super) const PART_SIZE: usize = 8 * 1024 * 1024;

/// Builds the client from `s3://bucket[/prefix]`, the options, and the usual `AWS_*`
/// variables; options win over variables.
pub(super) fn open(url: &str, options: &StorageOptions) -> Result<Inner, StorageError> {
    let parsed = url::Url::parse(url)
        .map_err(|e| StorageError::Config(format!("bad S3 URL {url:?}: {e}")))?;
    let bucket = parsed
        .host_str()
        .filter(|b| !b.is_empty())
        .ok_or_else(|| StorageError::Config(format!("S3 URL {url:?} names no bucket")))?
        .to_owned();
    let prefix = parsed.path().trim_matches('/');
    if !prefix.is_empty() && !keys::is_valid(prefix) {
        return Err(StorageError::Config(format!("bad S3 prefix {prefix:?}")));
    }
    let mut builder = AmazonS3Builder::from_env().with_bucket_name(&bucket);
    if let Some(endpoint) = &options.s3_endpoint {
        builder = builder
            .with_endpoint(endpoint)
            .with_allow_http(endpoint.starts_with("http://"))
            .with_virtual_hosted_style_request(false);
    }
    if let Some(region) = &options.s3_region {
        builder = builder.with_region(region);
    }
    if let Some(id) = &options.s3_access_key_id {
        builder = builder.with_access_key_id(id);
    }
    if let Some(secret) = &options.s3_secret_access_key {
        builder = builder.with_secret_access_key(secret.expose());
    }
    let s3 = builder
        .build()
        .map_err(|e| StorageError::Config(e.to_string()))?;
    let prefixed = Path::parse(prefix).map_err(|e| StorageError::Config(e.to_string()))?;
    let store = Arc::new(PrefixStore::new(s3, prefixed));
    Ok(Inner {
        store: store.clone(),
        multipart: Some(store),
        disk: None,
        block_size: PART_SIZE,
        description: format!("S3 bucket {bucket} prefix {prefix:?}"),
    })
}
