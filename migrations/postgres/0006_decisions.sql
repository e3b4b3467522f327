-- The final reviewer's decisions ([[reviewer]]): recorded before the action is submitted and
-- confirmed after, so a crash between the two resumes instead of acting twice. A round of a
-- task's approval step is named by the task's id, the step and the task's modification time
-- when the reviewer saw it.
CREATE TABLE decisions (
    id BIGSERIAL PRIMARY KEY,
    reviewer TEXT NOT NULL,
    program_id TEXT NOT NULL,
    task_id TEXT NOT NULL,
    task_title TEXT NOT NULL,
    step BIGINT NOT NULL,
    seen_modified TEXT NOT NULL,
    action TEXT NOT NULL,
    comment TEXT NOT NULL,
    state TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE UNIQUE INDEX decisions_round ON decisions (reviewer, task_id, step, seen_modified)
