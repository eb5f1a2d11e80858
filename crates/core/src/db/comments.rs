use sqlx::Row;
use sqlx::any::AnyRow;

use super::users::parse_id;
use super::{Db, DbError, Page, PageCursor};
use crate::ids::{CommentId, UserId, VideoId};

/// A stored comment with its author's name.
#[derive(Debug, Clone, PartialEq)]
pub struct CommentRecord {
    /// The comment's id.
    pub id: CommentId,
    /// The video it is about.
    pub video_id: VideoId,
    /// Who wrote it.
    pub author_id: UserId,
    /// The author's login name.
    pub author: String,
    /// The text.
    pub content: String,
    /// When it was posted, in Unix milliseconds.
    pub time: i64,
}

macro_rules! comment_select {
    () => {
        "SELECT c.id, c.video_id, c.author_id, u.login_name, c.content, c.time \
         FROM comments c JOIN users u ON u.id = c.author_id "
    };
}

impl CommentRecord {
    fn from_row(row: &AnyRow) -> Result<Self, DbError> {
        Ok(Self {
            id: parse_id(row.try_get("id")?)?,
            video_id: parse_id(row.try_get("video_id")?)?,
            author_id: parse_id(row.try_get("author_id")?)?,
            author: row.try_get("login_name")?,
            content: row.try_get("content")?,
            time: row.try_get("time")?,
        })
    }

    /// The keyset position of this comment in a listing.
    pub fn cursor(&self) -> PageCursor {
        PageCursor {
            time_ms: self.time,
            id: self.id.to_string(),
        }
    }
}

impl Db {
    /// Stores a comment; [`DbError::NotFound`] if the video is gone.
    pub async fn create_comment(
        &self,
        id: CommentId,
        video: VideoId,
        author: UserId,
        content: &str,
        now_ms: i64,
    ) -> Result<(), DbError> {
        // Inserting from a SELECT makes "the video still exists" part of the same statement,
        // so a comment can never outlive a video deleted a moment before.
        let inserted = sqlx::query(self.sql(
            "INSERT INTO comments (id, video_id, author_id, content, time) \
             SELECT ?, id, ?, ?, ? FROM video_info WHERE id = ?",
        ))
        .bind(id.to_string())
        .bind(author.to_string())
        .bind(content)
        .bind(now_ms)
        .bind(video.to_string())
        .execute(self.pool())
        .await?
        .rows_affected();
        if inserted == 0 {
            return Err(DbError::NotFound);
        }
        Ok(())
    }

    /// One comment by id.
    pub async fn comment(&self, id: CommentId) -> Result<CommentRecord, DbError> {
        let row = sqlx::query(self.sql(concat!(comment_select!(), "WHERE c.id = ?")))
            .bind(id.to_string())
            .fetch_one(self.pool())
            .await?;
        CommentRecord::from_row(&row)
    }

    /// A video's comments, newest first; those of banned users only `with_banned`
    /// (for the staff).
    pub async fn comments_of(
        &self,
        video: VideoId,
        with_banned: bool,
        after: &PageCursor,
        limit: u32,
    ) -> Result<Page<CommentRecord>, DbError> {
        let query = if with_banned {
            concat!(
                comment_select!(),
                "WHERE c.video_id = ? AND (c.time, c.id) < (?, ?) \
                 ORDER BY c.time DESC, c.id DESC LIMIT ?"
            )
        } else {
            concat!(
                comment_select!(),
                "WHERE c.video_id = ? AND u.banned = 0 AND (c.time, c.id) < (?, ?) \
                 ORDER BY c.time DESC, c.id DESC LIMIT ?"
            )
        };
        let rows = sqlx::query(self.sql(query))
            .bind(video.to_string())
            .bind(after.time_ms)
            .bind(&after.id)
            .bind(i64::from(limit) + 1)
            .fetch_all(self.pool())
            .await?;
        let comments = rows
            .iter()
            .map(CommentRecord::from_row)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Page::from_rows(comments, limit, CommentRecord::cursor))
    }

    /// Deletes a comment; [`DbError::NotFound`] if there is none.
    pub async fn delete_comment(&self, id: CommentId) -> Result<(), DbError> {
        let deleted = sqlx::query(self.sql("DELETE FROM comments WHERE id = ?"))
            .bind(id.to_string())
            .execute(self.pool())
            .await?
            .rows_affected();
        if deleted == 0 {
            return Err(DbError::NotFound);
        }
        Ok(())
    }
}
