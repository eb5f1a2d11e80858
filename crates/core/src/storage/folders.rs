//! Folders: the names directly under a prefix (one request per thousand on S3, however
//! many objects each holds), and emptying a folder but for one object.

use object_store::ObjectStore;

use super::{Storage, StorageError, keys, object_path};

impl Storage {
    /// The names of the folders directly under `prefix` (a valid key followed by `/`),
    /// sorted: for `videos/`, one entry per video, without listing their files.
    pub async fn list_folders(&self, prefix: &str) -> Result<Vec<String>, StorageError> {
        let folder = prefix
            .strip_suffix('/')
            .ok_or_else(|| StorageError::BadKey(prefix.to_owned()))?;
        let listed = match self
            .inner
            .store
            .list_with_delimiter(Some(&object_path(folder)?))
            .await
        {
            Ok(listed) => listed,
            Err(object_store::Error::NotFound { .. }) => return Ok(Vec::new()),
            Err(e) => return Err(e.into()),
        };
        let mut names: Vec<String> = listed
            .common_prefixes
            .iter()
            .filter_map(|p| p.filename().map(str::to_owned))
            .filter(|name| keys::is_valid(name))
            .collect();
        names.sort();
        Ok(names)
    }

    /// Deletes everything under `prefix` (a valid key followed by `/`) but the object
    /// `keep`, which lies directly in it; aborts the multipart uploads recorded there.
    /// Returns how many objects were deleted.
    pub async fn delete_prefix_except(
        &self,
        prefix: &str,
        keep: &str,
    ) -> Result<u64, StorageError> {
        let kept_name = keep
            .strip_prefix(prefix)
            .filter(|name| keys::is_valid(name) && !name.contains('/'))
            .ok_or_else(|| StorageError::BadKey(keep.to_owned()))?;
        let listed: Vec<_> = self
            .list_prefix(prefix)
            .await?
            .into_iter()
            .filter(|o| o.key != keep)
            .collect();
        if let Some(disk) = &self.inner.disk {
            let folder = object_path(prefix.trim_end_matches('/'))?;
            // Sidecars and the staged files of writes cut off by a crash go too.
            disk.remove_all_but(&folder, kept_name).await?;
        } else {
            self.delete_listed(&listed).await?;
        }
        Ok(listed.len() as u64)
    }
}
