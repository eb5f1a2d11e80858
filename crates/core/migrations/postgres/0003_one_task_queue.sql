-- One task queue: deleting a video now queues its deletion task in the same
-- transaction, so the deletion records kept until now become tasks (those that have
-- none yet; a record whose task exists was already queued) and their table goes.
INSERT INTO tasks (id, kind, video_id, state, attempts, due_at, create_time, update_time)
SELECT gen_random_uuid()::text, 'delete', d.video_id, 'pending', 0,
       d.create_time, d.create_time, d.create_time
FROM video_del_rec d
WHERE NOT EXISTS (SELECT 1 FROM tasks t WHERE t.kind = 'delete' AND t.video_id = d.video_id);

DROP TABLE video_del_rec;
