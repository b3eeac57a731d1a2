-- A partner's signing secret changes without a gap: the secret a PUT replaces keeps signing notices beside the new one
-- (two `v1,` signatures in webhook-signature, as Standard Webhooks allows) until previous_secret_until, so the partner
-- may switch its verification over at its own pace. Every statement may run again (migrate-once.test.ts).
ALTER TABLE "partners" ADD COLUMN IF NOT EXISTS "previous_secret" text;--> statement-breakpoint
ALTER TABLE "partners" ADD COLUMN IF NOT EXISTS "previous_secret_until" timestamp (3) with time zone;
