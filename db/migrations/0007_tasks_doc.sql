ALTER TABLE "tasks" ADD COLUMN "doc" text DEFAULT '{}' NOT NULL;--> statement-breakpoint
-- tasks.doc: the row as the contract's Task JSON, the same document api/views.ts taskFromRow makes (compared in
-- test/integration/task-json.test.ts). Written on every insert and update, read as it is by the inbox.
CREATE OR REPLACE FUNCTION tasks_doc() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.doc := json_build_object(
    'id', NEW.id, 'caseId', NEW.case_id, 'type', NEW.type, 'status', NEW.status,
    'assignee', json_build_object('org', NEW.assignee_org, 'role', NEW.assignee_role), 'roles', NEW.roles,
    'createdAt', to_char(NEW.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
    'dueAt', to_char(NEW.due_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
    'escalated', NEW.escalated,
    'completedAt', to_char(NEW.completed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
    'completedBy', CASE WHEN coalesce(NEW.completed_by_id, '') = '' THEN NULL
                        ELSE json_build_object('id', NEW.completed_by_id, 'org', coalesce(NEW.completed_by_org, '')) END,
    'outcome', NEW.outcome, 'data', NEW.data, 'comment', NEW.comment, 'context', coalesce(NEW.context, '{}'::jsonb)
  )::text;
  RETURN NEW;
END
$$;--> statement-breakpoint
CREATE TRIGGER tasks_doc BEFORE INSERT OR UPDATE ON tasks FOR EACH ROW EXECUTE FUNCTION tasks_doc();--> statement-breakpoint
UPDATE tasks SET doc = '{}';
