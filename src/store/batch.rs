//! Group commit for new statuses.
//!
//! A newsroom posts in bursts, and a post is about ten small statements plus a commit.
//! Committing each post alone costs a commit (on SQLite, every touched page written to
//! the WAL again) and, when one reporter posts, a lock on the same account row per post.
//! Here concurrent posts are written together: a post joins a shared queue; whoever
//! holds a free lane takes everything queued (up to [`MAX_BATCH`]) and writes it in one
//! transaction, on a task of its own (so a client that hangs up mid-batch cancels nothing
//! of anybody else's). Every post's caller waits for its own answer.
//!
//! If any post in a batch fails, the batch is rolled back and its posts are written again
//! one by one, so one bad post fails alone and the others succeed as if alone.
//! Nothing is acknowledged before its transaction commits.

use super::sql::SqlStore;
use super::{NewStatus, Result, StoreError};
use crate::domain::entities::StatusRecord;
use std::sync::{Arc, Mutex as SyncMutex};
use tokio::sync::{Mutex, oneshot};

/// Most posts written in one transaction.
pub const MAX_BATCH: usize = 256;

type Reply = oneshot::Sender<Result<StatusRecord>>;

pub(super) struct PostQueue {
    pending: SyncMutex<Vec<(NewStatus, Reply)>>,
    lanes: Vec<Arc<Mutex<()>>>,
}

impl PostQueue {
    /// `lanes` batches may be written at once (1 on SQLite, which has one writer).
    pub fn new(lanes: usize) -> Self {
        PostQueue {
            pending: SyncMutex::new(Vec::new()),
            lanes: (0..lanes.max(1))
                .map(|_| Arc::new(Mutex::new(())))
                .collect(),
        }
    }

    fn take(&self) -> Vec<(NewStatus, Reply)> {
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        let n = pending.len().min(MAX_BATCH);
        pending.drain(..n).collect()
    }
}

impl SqlStore {
    pub(super) async fn post_batched(&self, status: NewStatus) -> Result<StatusRecord> {
        let (reply, answer) = oneshot::channel();
        self.posts
            .pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((status, reply));
        // The taking runs on its own task: a caller that goes away while waiting for a
        // lane must not leave its post in the queue with nobody to take it.
        let store = self.clone();
        tokio::spawn(async move { store.lead().await });
        answer
            .await
            .unwrap_or_else(|_| Err(StoreError::Database(sqlx::Error::WorkerCrashed)))
    }

    /// Take a lane (a free one if there is one, else wait for one), then write whatever
    /// is queued. Every post spawns one of these, so every post is taken: each take
    /// empties up to [`MAX_BATCH`] posts, and there are as many takes as posts.
    async fn lead(&self) {
        let lanes = &self.posts.lanes;
        let _lane = match lanes.iter().find_map(|l| l.clone().try_lock_owned().ok()) {
            Some(guard) => guard,
            None => {
                let i = self.posts.pending.lock().map(|p| p.len()).unwrap_or(0) % lanes.len();
                lanes[i].clone().lock_owned().await
            }
        };
        let batch = self.posts.take();
        if !batch.is_empty() {
            self.write_batch(batch).await;
        }
    }

    async fn write_batch(&self, batch: Vec<(NewStatus, Reply)>) {
        let (statuses, replies): (Vec<NewStatus>, Vec<Reply>) = batch.into_iter().unzip();
        // Shared with the transaction (which may run on SQLite's writer thread), not copied.
        let statuses: Arc<[NewStatus]> = statuses.into();
        match self.write_new_statuses(statuses.clone()).await {
            Ok(records) => {
                for (reply, record) in replies.into_iter().zip(records) {
                    let _ = reply.send(Ok(record));
                }
            }
            Err(e) if statuses.len() == 1 => {
                if let Some(reply) = replies.into_iter().next() {
                    let _ = reply.send(Err(e));
                }
            }
            Err(_) => {
                for (status, reply) in statuses.iter().zip(replies) {
                    let result = self.write_new_statuses(Arc::from([status.clone()])).await;
                    let _ = reply.send(result.map(|mut r| r.remove(0)));
                }
            }
        }
    }
}
