-- Quota usage now counts every blob associated with a project (uploads included), and an
-- association ends when the project's last artifact standing on the blob is deleted.
-- End the associations earlier versions kept after such deletions, then recount.
DELETE FROM project_blobs
WHERE NOT EXISTS (
    SELECT 1 FROM artifact_blobs ab
    JOIN artifacts a ON a.id = ab.artifact_id
    JOIN repositories r ON r.id = a.repository_id
    WHERE r.project_id = project_blobs.project_id AND ab.digest = project_blobs.digest)
  AND NOT EXISTS (
    SELECT 1 FROM artifacts a
    JOIN repositories r ON r.id = a.repository_id
    WHERE r.project_id = project_blobs.project_id AND a.digest = project_blobs.digest);

UPDATE quotas SET used = (
    SELECT COALESCE(SUM(b.size), 0) FROM project_blobs pb
    JOIN blobs b ON b.digest = pb.digest
    WHERE pb.project_id = quotas.project_id);
