CREATE INDEX "cases_org_created_idx" ON "cases" USING btree ("org","created_at","id");--> statement-breakpoint
CREATE INDEX "cases_org_status_idx" ON "cases" USING btree ("org","status");