-- Each notice carries its case's audit chain head as it was when the notice was prepared ({ seq, hash }), kept here so
-- that every attempt sends the same body: partners keep the signed notices, so the chain's state is witnessed outside
-- Takedown at every notice (see docs/audit-verification.md). Null for notices prepared before this migration. May run
-- again (migrate-once.test.ts runs the last migration twice).
ALTER TABLE "notices" ADD COLUMN IF NOT EXISTS "audit_head" jsonb;
